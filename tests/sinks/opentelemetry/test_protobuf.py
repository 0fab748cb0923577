"""What the OTLP protobuf writer makes parses, with the OpenTelemetry project's own definitions
(opentelemetry-proto), into exactly the values it was given, whatever they are."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from peers.otlp_receiver import python_of
from shipper.sinks.opentelemetry import protobuf

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


def parsed(data: bytes) -> AnyValue:
    message = AnyValue()
    message.ParseFromString(data)
    return message


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_any_json_value_parses_back_to_itself(value):
    back = python_of(parsed(protobuf.any_value(value)))

    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(back)
    else:
        assert back == value and type(back) is type(value)


@given(st.integers(2**63, 2**80) | st.integers(-(2**80), -(2**63) - 1))
def test_an_integer_past_int64_is_sent_as_its_text(value):
    assert python_of(parsed(protobuf.any_value(value))) == str(value)


def test_arrays_nested_past_the_limit_are_sent_as_their_json_and_parse_where_upb_stops_at_100_messages():
    value: Any = "deep"
    for _ in range(100):
        value = [value]

    back = python_of(parsed(protobuf.any_value(value)))

    for _ in range(protobuf.MAX_NESTING):
        back = back[0]
    assert back == "[" * (100 - protobuf.MAX_NESTING) + '"deep"' + "]" * (100 - protobuf.MAX_NESTING)
    request = ExportLogsServiceRequest()
    request.ParseFromString(protobuf.export_request([protobuf.resource_logs(b"", "s", "1", [protobuf.log_record(
        1, 2, b"", "text", protobuf.attributes([("nested", value)]))])]))  # as a record's attribute: parses too


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**63 - 1), st.integers(0, 24),
                                  st.text(max_size=8), st.text(), st.dictionaries(st.text(max_size=5), json_values,
                                                                                   max_size=3)), max_size=5),
       resource=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4))
def test_a_request_of_records_parses_into_the_same_records(records, resource):
    encoded = [protobuf.log_record(t, observed, protobuf.severity_fields(number, label), body,
                                   protobuf.attributes(fields.items()))
               for t, observed, number, label, body, fields in records]
    request = ExportLogsServiceRequest()
    request.ParseFromString(protobuf.export_request([protobuf.resource_logs(
        protobuf.resource_part(resource), "shipper", "0.2.0", encoded)]))

    (resource_logs,) = request.resource_logs
    assert {a.key: python_of(a.value) for a in resource_logs.resource.attributes} == resource
    (scope_logs,) = resource_logs.scope_logs
    assert (scope_logs.scope.name, scope_logs.scope.version) == ("shipper", "0.2.0")
    assert [(r.time_unix_nano, r.observed_time_unix_nano, r.severity_number, r.severity_text, r.body.string_value,
             {a.key: python_of(a.value) for a in r.attributes}) for r in scope_logs.log_records] == \
        [(max(0, t), observed, number, label, body, fields) for t, observed, number, label, body, fields in records]


def test_what_it_writes_is_not_taken_for_something_else_when_cut_short():
    whole = protobuf.export_request([protobuf.resource_logs(b"", "s", "1", [protobuf.log_record(
        1, 2, b"", "text", b"")])])
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(whole[:-3])
    except DecodeError:
        return
    raise AssertionError("a request cut short parsed")


@given(st.integers(-(2**63), 2**63 - 1), st.text(), st.binary(max_size=8))
def test_a_partial_success_reads_as_the_receivers_library_wrote_it(rejected, message, unknown):
    answer = ExportLogsServiceResponse()
    answer.partial_success.rejected_log_records = rejected
    answer.partial_success.error_message = message

    assert protobuf.partial_success(answer.SerializeToString()) == (rejected, message)
    assert protobuf.partial_success(b"") == (0, "")


@given(st.binary(max_size=64))
def test_any_bytes_as_an_answer_are_a_partial_success_or_malformed(data):
    try:
        rejected, message = protobuf.partial_success(data)
    except protobuf.Malformed:
        return
    assert isinstance(rejected, int) and isinstance(message, str)

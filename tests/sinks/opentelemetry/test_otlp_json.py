"""OTLP/JSON as the OpenTelemetry project's own definitions read it (protobuf's JSON parser over
opentelemetry-proto): the same messages as the protobuf writer makes of the same values."""

from __future__ import annotations

from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from shipper.sinks.opentelemetry import otlp_json, protobuf
from tests.sinks.opentelemetry.test_protobuf import json_values

records = st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**63 - 1), st.integers(0, 24),
                             st.text(max_size=8), st.text(), st.dictionaries(st.text(max_size=5), json_values,
                                                                              max_size=3)), max_size=5)
resources = st.dictionaries(st.text(max_size=10), json_values, max_size=4)


def from_json(data: bytes) -> ExportLogsServiceRequest:
    return json_format.Parse(data, ExportLogsServiceRequest())


def from_protobuf(data: bytes) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    request.ParseFromString(data)
    return request


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(resources, records), max_size=3))
def test_the_json_request_is_the_protobuf_request(groups):
    def made(codec):
        return codec.export_request([codec.resource_logs(codec.resource_part(resource), "shipper", "0.2.0", [
            codec.log_record(t, observed, codec.severity_fields(number, label), body, codec.attributes(fields.items()))
            for t, observed, number, label, body, fields in group]) for resource, group in groups])

    as_json = from_json(made(otlp_json))
    as_protobuf = from_protobuf(made(protobuf))

    assert as_json == as_protobuf


def test_a_float_json_cannot_write_is_written_as_the_mapping_says():
    for value, expected in ((float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity")):
        assert otlp_json.any_value(value) == {"doubleValue": expected}
    resource = otlp_json.resource_part({"x": float("inf")})
    parsed = from_json(otlp_json.export_request([otlp_json.resource_logs(resource, "s", "1", [])]))
    assert parsed.resource_logs[0].resource.attributes[0].value.double_value == float("inf")


messages_of_any_length = st.text() | st.builds(lambda n, tail: "x" * n + tail, st.integers(16_300, 16_400),
                                               st.text(max_size=3)) | st.just("é" * 9000)  # lengths past 14 bits
block_records = st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), messages_of_any_length,
                                   st.sampled_from([b"", b"\x10\x09", b'"x"'])), max_size=6)


@settings(max_examples=300, deadline=None)
@given(block_records, st.integers(0, 2**63 - 1), st.sampled_from([b"", b"\x32\x03\x0a\x01\x61" * 500]))
def test_a_blocks_records_made_at_once_are_each_record_made_alone(records, observed, attributes):
    for codec in (protobuf, otlp_json):
        times = [t for t, _, _ in records]
        messages = [m for _, m, _ in records]
        severities = [s for _, _, s in records]
        at_once = codec.log_records(times, observed, messages, severities, [attributes] * len(records))

        assert at_once == [codec.log_record(t, observed, s, m, attributes) for t, m, s in records]

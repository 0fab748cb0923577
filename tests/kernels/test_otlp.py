"""The otlp kernel (shipper/kernels/_otlp.c) gives exactly the bytes of the Python reference
(sinks/opentelemetry/protobuf.py: log_records on the Python path, and log_record record by record) on
any block: messages of any code points and of lengths whose varints take 1 to 3 bytes, times anywhere
in 64 bits, any severity and attributes parts; and hands back what the reference must decide."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from shipper import kernels
from shipper.sinks.opentelemetry import protobuf

pytestmark = pytest.mark.skipif(kernels.otlp is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")

times = st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, -1, 1, 2**63 - 1, -(2**63)])
valid = st.characters(min_codepoint=0x80, exclude_categories=("Cs",))  # the spool repairs lone surrogates
messages = st.text() | st.text(valid, max_size=50) | st.builds(
    lambda n, tail: "x" * n + tail, st.sampled_from([0, 127, 128, 16_383, 16_384, 70_000]), st.text(max_size=3))
parts = st.binary(max_size=20) | st.sampled_from([b"", b"\x10\x11\x1a\x03err"])


def on_reference(*args):
    saved, kernels.otlp = kernels.otlp, None
    try:
        return protobuf.log_records(*args)
    finally:
        kernels.otlp = saved


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(times, messages, parts, parts), max_size=8), st.integers(0, 2**63 - 1))
def test_the_kernel_makes_exactly_the_references_records(records, observed):
    columns = ([t for t, _, _, _ in records], observed, [m for _, m, _, _ in records],
               [s for _, _, s, _ in records], [a for _, _, _, a in records])

    made = kernels.otlp.log_records(*columns)

    assert made is not None
    assert made == on_reference(*columns)
    assert made == [protobuf.log_record(t, observed, s, m, a) for t, m, s, a in records]


def test_what_it_makes_parses_as_the_project_defines_it():
    records = kernels.otlp.log_records([10**18, -5], 7, ["héllo", ""], [protobuf.severity_fields(17, "err"), b""],
                                       [protobuf.attributes([("k", 1)]), b""])
    request = ExportLogsServiceRequest()
    request.ParseFromString(protobuf.export_request([protobuf.resource_logs(b"", "s", "1", records)]))

    first, second = request.resource_logs[0].scope_logs[0].log_records
    assert (first.time_unix_nano, first.observed_time_unix_nano, first.body.string_value, first.severity_number,
            first.severity_text, first.attributes[0].value.int_value) == (10**18, 7, "héllo", 17, "err", 1)
    assert (second.time_unix_nano, second.body.string_value) == (0, "")


@pytest.mark.parametrize("columns", [
    ([1, 2**63], 0, ["a", "b"], [b"", b""], [b"", b""]),  # a time past int64
    ([1, 2], 0, ["a", "\ud800"], [b"", b""], [b"", b""]),  # a lone surrogate: str.encode refuses it
    ([1, 2], 0, ["a", b"b"], [b"", b""], [b"", b""]),  # not a str
    ([1, 2], 0, ["a", "b"], [b"", "x"], [b"", b""]),  # a part that is not bytes
    ([1], 0, ["a", "b"], [b""], [b""]),  # lengths that differ
    ([1], 2**64, ["a"], [b""], [b""]),  # an observed time past int64
    ([1.5], 0, ["a"], [b""], [b""]),  # a time that is not an int
])
def test_what_the_kernel_does_not_take_it_hands_back(columns):
    assert kernels.otlp.log_records(*columns) is None

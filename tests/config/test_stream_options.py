"""firehose and kinesis_streams sink options are checked when the configuration loads."""

from __future__ import annotations

import pytest

from shipper.components import parse_config
from shipper.config.errors import ConfigError

BASE = """\
sources:
  app: {type: file, include: [/var/log/app/*.log]}
sinks:
  out:
    inputs: [app]
    region: us-east-1
"""


def load(extra: str):
    return parse_config(BASE + extra, "shipper.yaml", {}).sinks["out"]


def errors(extra: str) -> str:
    with pytest.raises(ConfigError) as raised:
        load(extra)
    return raised.value.render()


def test_firehose_defaults_are_json_lines_one_per_record_uncompressed_four_calls_in_flight():
    sink = load("    type: firehose\n    delivery_stream: node-logs\n")

    assert (sink.encoding, sink.pack, sink.compression, sink.max_requests_in_flight) == ("json", False, "none", 4)


def test_kinesis_defaults_to_random_keys_and_one_call_in_flight():
    sink = load("    type: kinesis_streams\n    stream_name: node-logs\n")

    assert (sink.partition_key, sink.max_requests_in_flight) == (None, 1)


@pytest.mark.parametrize(("extra", "reason"), [
    ("    type: firehose\n    delivery_stream: 'no spaces'\n",
     "sinks.out.delivery_stream: 'no spaces' is not a stream name (1-64 letters, digits, '_', '.', '-')"),
    ("    type: firehose\n    delivery_stream: " + "x" * 65 + "\n", "is not a stream name (1-64"),
    ("    type: kinesis_streams\n    stream_name: a/b\n", "sinks.out.stream_name: 'a/b' is not a stream name"),
    ("    type: kinesis_streams\n    stream_name: s\n    partition_key: '{kubernetes.'\n", "sinks.out.partition_key"),
    ("    type: kinesis_streams\n    stream_name: s\n    compression: zstd\n", "sinks.out.compression"),
    ("    type: firehose\n    delivery_stream: s\n    partition_key: '{app}'\n", "sinks.out.partition_key"),
    ("    type: firehose\n    delivery_stream: s\n    endpoint: http://firehose.example\n",
     "plain http to another host"),
])
def test_a_bad_option_is_named_with_the_reason(extra, reason):
    assert reason in errors(extra)

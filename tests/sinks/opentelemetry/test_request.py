"""The spool's records as OTLP requests: each record once, in order, under its own resource, with its
body, time, severity and attributes, in batches within the limits, in either encoding."""

from __future__ import annotations

import gzip
import time
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from peers.otlp_receiver import python_of
from shipper.buffer.spool import Position, StoredBlock
from shipper.sinks.opentelemetry.request import RequestBuilder

WEB = {"host": "node-1", "file": "/var/log/pods/shop_web_u1/web/0.log",
       "kubernetes": {"namespace": "shop", "pod_name": "web-1", "container_name": "web", "workload_kind": "Deployment",
                      "workload_name": "web"}}
DB = {"host": "node-1", "kubernetes": {"namespace": "shop", "pod_name": "db-0", "container_name": "db"}}
STDOUT, STDERR = {"stream": "stdout"}, {"stream": "stderr", "severity": "err"}


def parsed(body: bytes, encoding: str, compression: str = "none") -> ExportLogsServiceRequest:
    data = gzip.decompress(body) if compression == "gzip" else body
    if encoding == "json":
        return json_format.Parse(data, ExportLogsServiceRequest())
    request = ExportLogsServiceRequest()
    request.ParseFromString(data)
    return request


def records_of(request: ExportLogsServiceRequest) -> list[tuple[str, int, str, int, str, dict[str, Any]]]:
    return [({a.key: python_of(a.value) for a in resource.resource.attributes}["k8s.pod.name"], record.time_unix_nano,
             record.body.string_value, record.severity_number, record.severity_text,
             {a.key: python_of(a.value) for a in record.attributes})
            for resource in request.resource_logs for scope in resource.scope_logs for record in scope.log_records]


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_records_go_under_their_own_resource_with_their_severity_and_attributes(encoding, compression):
    builder = RequestBuilder(encoding, compression, 1 << 20, 100, {}, None)
    blocks = [StoredBlock(1, "pods", WEB, [10, 11, 12], ["a", "b", "c"], [STDOUT, STDERR, STDOUT], 1),
              StoredBlock(2, "pods", DB, [20], ["d"], [STDOUT], 0),
              StoredBlock(3, "pods", WEB, [30], ["e"], [STDOUT], 0)]

    assert list(builder.add(blocks, 0.0)) == []
    batch = builder.take()
    request = parsed(builder.body(batch), encoding, compression)

    web_attributes = {"log.file.path": WEB["file"], "log.iostream": "stdout"}
    assert records_of(request) == [
        ("web-1", 11, "b", 17, "err", {**web_attributes, "log.iostream": "stderr", "severity": "err"}),
        ("web-1", 12, "c", 0, "", web_attributes), ("web-1", 30, "e", 0, "", web_attributes),
        ("db-0", 20, "d", 0, "", {"log.iostream": "stdout"})]
    assert len(request.resource_logs) == 2 and batch.end == Position(3, 1) and batch.events == 4
    assert {a.key: python_of(a.value) for a in request.resource_logs[0].resource.attributes}["service.name"] == "web"


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_batches_close_at_the_event_and_byte_limits_and_a_record_alone_too_large_goes_alone(encoding):
    by_events = RequestBuilder(encoding, "none", 1 << 20, 2, {}, None)
    block = StoredBlock(1, "pods", DB, list(range(5)), ["x" * 10, "y" * 10, "z" * 1000, "w", "v"], [None] * 5, 0)
    resource, records = by_events.encoded(block, time.time_ns())  # as long as the observed times it will write
    by_bytes = RequestBuilder(encoding, "none", len(resource) + len(records[0]) + len(records[1]), 100, {}, None)

    counted = [*by_events.add([block], 0.0), by_events.take()]
    sized = [*by_bytes.add([block], 0.0), by_bytes.take()]

    assert [(b.events, b.end) for b in counted] == [(2, Position(1, 2)), (2, Position(1, 4)), (1, Position(1, 5))]
    assert [[record[2] for record in records_of(parsed(by_bytes.body(b), encoding))] for b in sized] == \
        [["x" * 10, "y" * 10], ["z" * 1000], ["w", "v"]]


def test_a_severity_field_of_the_operators_is_read_as_level_names_and_syslog_numbers():
    builder = RequestBuilder("protobuf", "none", 1 << 20, 100, {"deployment.environment.name": "prod"}, ("level",))
    block = StoredBlock(1, "app", DB, [1, 2, 3, 4, 5], ["a", "b", "c", "d", "e"],
                        [{"level": "WARN"}, {"level": "trace"}, {"level": 2}, {"level": "loud"}, None], 0)

    list(builder.add([block], 0.0))
    request = parsed(builder.body(builder.take()), "protobuf")

    assert [(r[3], r[4]) for r in records_of(request)] == [(13, "WARN"), (1, "trace"), (18, "crit"), (0, ""), (0, "")]
    assert {a.key for a in request.resource_logs[0].resource.attributes} >= {"deployment.environment.name"}

"""The agent sending to an OTLP/HTTP receiver on loopback that reads every request with the
OpenTelemetry project's own definitions: every line once in both encodings, the resource and
attributes, the retryable answers waited out, a refusing answer and a partial success counted, and
kill -9 with requests in flight."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from peers.otlp_receiver import OtlpReceiver
from tests.agent_process import AgentProcess, numbered, scraped, wait_for, with_api, write_config, write_lines


@pytest.fixture
def receiver():
    server = OtlpReceiver().start()
    yield server
    server.stop()


def otlp_config(tmp_path: Path, endpoint: str, **sink) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "poll_interval": "20ms"}},
        "sinks": {"otel": {"type": "opentelemetry", "inputs": ["app"], "endpoint": endpoint, "batch_timeout": "100ms",
                           **sink}},
    })


@pytest.mark.parametrize(("encoding", "compression"), [("protobuf", "none"), ("json", "gzip")])
def test_every_line_arrives_once_in_order_as_an_otlp_log_record(tmp_path, receiver, encoding, compression):
    lines = numbered(5_000)
    write_lines(tmp_path, lines)
    cfg = otlp_config(tmp_path, receiver.url, encoding=encoding, compression=compression, max_requests_in_flight=1,
                      max_batch_events=700, resource_attributes={"deployment.environment.name": "test"})
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(receiver.bodies()) >= len(lines), 60, "every line at the receiver")
    assert agent.terminate(timeout=20) == 0

    assert receiver.bodies() == lines and receiver.malformed == 0
    first = receiver.records()[0]
    assert first.resource["deployment.environment.name"] == "test" and "host.name" in first.resource
    assert first.attributes["log.file.path"] == str(tmp_path / "logs" / "app.log")
    assert first.time_unix_nano > 1_700_000_000 * 10**9
    assert set(receiver.content_types) == {"application/x-protobuf" if encoding == "protobuf" else "application/json"}
    assert max(len(r.resource_logs[0].scope_logs[0].log_records) for r in receiver.requests) == 700


def test_retryable_answers_are_waited_out_and_a_refused_batch_is_discarded_and_counted(tmp_path, receiver):
    lines = numbered(3_000)
    write_lines(tmp_path, lines)
    receiver.answer(429, count=3, retry_after=0.2)
    receiver.answer(503, count=2)
    receiver.answer(400, count=1)  # the specification: not retried
    cfg = otlp_config(tmp_path, receiver.url, max_batch_events=500, max_requests_in_flight=1)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(receiver.bodies()) >= len(lines) - 500, 60, "every batch but the refused one")
    wait_for(lambda: scraped(api, "shipper_events_discarded_total", component_id="otel", reason="http_400") == 500,
             10, "the refused batch counted")
    retried = scraped(api, "shipper_retries_total", component_id="otel")
    assert agent.terminate(timeout=20) == 0

    assert receiver.bodies() == lines[500:]
    assert retried == 5


def test_a_partial_success_counts_the_records_the_receiver_rejected(tmp_path, receiver):
    lines = numbered(1_000)
    write_lines(tmp_path, lines)
    receiver.reject_containing("line 0004")  # 100 lines: 000400 to 000499
    cfg = otlp_config(tmp_path, receiver.url, max_batch_events=250)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(receiver.bodies()) >= 900, 60, "every line but the rejected")
    wait_for(lambda: scraped(api, "shipper_events_discarded_total", component_id="otel",
                             reason="rejected_by_receiver") == 100, 10, "the rejected counted")
    wait_for(lambda: scraped(api, "shipper_events_sent_total", component_id="otel") == 900, 10, "the rest counted sent")
    assert agent.terminate(timeout=20) == 0

    assert receiver.bodies() == [line for line in lines if "line 0004" not in line]
    assert receiver.rejected == 100


def test_kill_9_with_requests_in_flight_loses_nothing_and_repeats_only_those_requests(tmp_path, receiver):
    lines = numbered(20_000)
    write_lines(tmp_path, lines)
    cfg = otlp_config(tmp_path, receiver.url, max_batch_events=1000, max_requests_in_flight=4)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: len(receiver.bodies()) >= 5_000, 60, "a quarter of the lines delivered")

    agent.kill()
    AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: set(receiver.bodies()) >= set(lines), 60, "every line after the restart")

    counts = Counter(receiver.bodies())
    assert [line for line in lines if line not in counts] == []
    repeated = {line: n for line, n in counts.items() if n > 1}
    assert set(repeated.values()) <= {2} and len(repeated) <= 4 * 1000

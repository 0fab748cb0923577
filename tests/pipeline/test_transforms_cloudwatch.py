"""Transforms into CloudWatch Logs (LocalStack): parsed fields arrive typed, and a parsed time becomes
the event's timestamp."""

from __future__ import annotations

import calendar
import subprocess
import time

import orjson
import pytest

from tests.agent_process import AgentProcess, wait_for, write_config
from tests.cloudwatch import count_arrived, events, logs_client, unique_prefix
from tests.node import make_pod, write_cri

pytestmark = pytest.mark.localstack

ACCESS = [
    '203.0.113.9 - - [{t}] "GET /shop/cart HTTP/1.1" 200 1532 "https://example.com/" "Mozilla/5.0"',
    '198.51.100.4 - bob [{t}] "POST /api/orders HTTP/2.0" 503 0 "-" "curl/8.5.0"',
    "a line that is not an access line",
]


def test_an_nginx_access_log_parsed_into_typed_fields_arrives_as_json(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(time.time() - 60))
    log = tmp_path / "access.log"
    log.write_text("".join(line.format(t=stamp) + "\n" for line in ACCESS))
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"nginx": {"type": "file", "include": [str(log)], "poll_interval": "50ms"}},
        "transforms": {"access": {"type": "parse", "inputs": ["nginx"], "format": "nginx_combined",
                                  "time_key": "time_local", "time_format": "%d/%b/%Y:%H:%M:%S %z"}},
        "sinks": {"cw": {"type": "cloudwatch_logs", "inputs": ["access"], "region": "us-east-1",
                         "endpoint": localstack, "group_name": prefix, "stream_name": "access",
                         "create_missing_group": True, "encoding": "json", "batch_timeout": "200ms"}},
    })
    client = logs_client(localstack)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: count_arrived(client, prefix) >= 3, 60, "three events", interval=0.5)
    assert agent.terminate(timeout=20) == 0

    got = events(client, prefix, "access")

    bodies = [orjson.loads(e["message"]) for e in got]
    assert [(b.get("method"), b.get("path"), b.get("status"), b.get("body_bytes_sent")) for b in bodies] == [
        ("GET", "/shop/cart", 200, 1532), ("POST", "/api/orders", 503, 0), (None, None, None, None)]
    assert bodies[1]["remote_user"] == "bob" and "http_referer" not in bodies[1]
    parsed_time = calendar.timegm(time.strptime(stamp, "%d/%b/%Y:%H:%M:%S +0000")) * 1000
    assert [e["timestamp"] for e in got[:2]] == [parsed_time, parsed_time]


def test_a_json_container_log_is_parsed_and_its_time_field_sets_the_event_time(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    pod_dir = make_pod(tmp_path, "shop", "api-0")
    written_at = time.time() - 300  # five minutes before the runtime's own stamp
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(written_at)) + ".250Z"
    write_cri(pod_dir, [orjson.dumps({"time": iso, "level": "error", "msg": "payment failed", "code": 402}).decode(),
                        "plain text, no JSON"])
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"pods": {"type": "kubernetes_logs", "include": [str(tmp_path / "containers" / "*.log")],
                             "poll_interval": "50ms", "discover_interval": "200ms"}},
        "transforms": {"app": {"type": "parse", "inputs": ["pods"], "format": "json", "time_key": "time"}},
        "sinks": {"cw": {"type": "cloudwatch_logs", "inputs": ["app"], "region": "us-east-1",
                         "endpoint": localstack, "group_name": prefix + "/{kubernetes.namespace}",
                         "stream_name": "{kubernetes.pod_name}", "create_missing_group": True,
                         "encoding": "json", "batch_timeout": "200ms"}},
    })
    client = logs_client(localstack)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: count_arrived(client, prefix) >= 2, 60, "both events", interval=0.5)
    assert agent.terminate(timeout=20) == 0

    parsed, plain = events(client, f"{prefix}/shop", "api-0")

    body = orjson.loads(parsed["message"])
    assert (body["level"], body["msg"], body["code"], body["stream"]) == ("error", "payment failed", 402, "stdout")
    assert body["kubernetes"]["pod_name"] == "api-0"
    assert parsed["timestamp"] == int(written_at) * 1000 + 250
    assert orjson.loads(plain["message"])["message"] == "plain text, no JSON"
    assert abs(plain["timestamp"] / 1000 - time.time()) < 120

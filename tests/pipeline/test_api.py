"""The HTTP API of a running agent: /healthz, /readyz (spool full), and /metrics whose counters
balance: what a source received = what the sink sent + what is still in the spool."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from shipper.api import HEAD_TIMEOUT, MAX_CONNECTIONS, public_message
from tests.agent_process import AgentProcess, blocked_pipe, http_get, wait_for, with_api, write_config


def config(tmp_path: Path, **top) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        **top,
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "poll_interval": "20ms"}},
        "sinks": {"out": {"type": "console", "inputs": ["app"], "encoding": "text"}},
    })


def samples(api: str) -> dict[tuple[str, tuple], float]:
    status, body = http_get(f"{api}/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_balance_received_equals_sent_plus_spooled_during_a_run(tmp_path):
    (tmp_path / "logs").mkdir()
    cfg = config(tmp_path)
    api = with_api(cfg)
    out = tmp_path / "out.txt"
    with open(out, "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        wait_for(lambda: http_get(f"{api}/healthz")[0] == 200, 30, "the API")
        lines = [f"line {i}" for i in range(20_000)]
        (tmp_path / "logs" / "app.log").write_text("".join(f"{line}\n" for line in lines))

        checks = 0
        while True:
            metrics = samples(api)
            received = value(metrics, "shipper_events_received_total", component_kind="source", component_id="app",
                             component_type="file")
            sent = value(metrics, "shipper_events_sent_total", component_kind="sink", component_id="out",
                         component_type="console")
            spooled = value(metrics, "shipper_spool_events")
            assert received >= sent
            if received == sent + spooled:
                checks += 1
            if sent == len(lines):
                break
        log = str(tmp_path / "logs" / "app.log")
        file_labels = {"component_kind": "source", "component_id": "app", "component_type": "file", "file": log}
        size = (tmp_path / "logs" / "app.log").stat().st_size
        assert value(metrics, "shipper_file_read_offset_bytes", **file_labels) == size
        assert value(metrics, "shipper_file_size_bytes", **file_labels) == size
        assert ("shipper_spool_oldest_age_seconds", ()) in metrics
        sink = {"component_kind": "sink", "component_id": "out", "component_type": "console"}
        observed = value(metrics, "shipper_delivery_latency_seconds_count", **sink)
        assert observed > 0
        assert value(metrics, "shipper_delivery_latency_seconds_sum", **sink) / observed < 60
        assert agent.terminate(timeout=10) == 0
    assert checks >= 1
    assert received == sent == len(lines) and spooled == 0
    assert value(metrics, "shipper_events_received_total", component_kind="sink", component_id="out",
                 component_type="console") == len(lines)  # every sink counts what it took
    assert out.read_text().splitlines() == lines


def test_readyz_turns_unready_while_the_spool_is_full_and_healthz_stays_ok(tmp_path):
    (tmp_path / "logs").mkdir()
    cfg = config(tmp_path, buffer={"max_size": "1MiB"})
    api = with_api(cfg)
    _, write_end = blocked_pipe()  # the sink can never deliver: the spool fills
    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: http_get(f"{api}/readyz")[0] == 200, 30, "ready at start")

    (tmp_path / "logs" / "app.log").write_text("".join(f"line {i:06d} {'x' * 200}\n" for i in range(20_000)))

    wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "unready when full")
    _, body = http_get(f"{api}/readyz")
    assert "spool" in body and "full" in body
    assert http_get(f"{api}/healthz")[0] == 200
    agent.kill()


def test_thousands_of_half_open_requests_neither_hold_the_api_nor_the_agent(tmp_path):
    # before: every half-open request was held open without a time limit
    agent, api, (host, port) = agent_with_api(tmp_path)
    idle = []
    try:
        for _ in range(1000):
            connection = socket.create_connection((host, port))
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
            idle.append(connection)

        assert http_get(f"{api}/healthz")[0] == 200 or _answers_once_slots_free(api)
        open_after = sum(_still_open(connection) for connection in idle)
        assert open_after <= MAX_CONNECTIONS
    finally:
        for connection in idle:
            connection.close()
    assert agent.terminate(timeout=10) == 0


def test_a_request_head_that_never_ends_is_closed_after_the_head_timeout(tmp_path):
    agent, _, (host, port) = agent_with_api(tmp_path)

    with socket.create_connection((host, port)) as slow:
        slow.sendall(b"GET /metrics HTTP/1.1\r\n")
        slow.settimeout(HEAD_TIMEOUT + 5)
        closed = slow.recv(1) == b""  # the server hangs up without an answer

    assert closed
    assert agent.terminate(timeout=10) == 0


def test_readyz_gives_reason_codes_and_messages_without_arns_or_account_ids():
    text = ("refused: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/shipper/i-0abc is not "
            "authorized to perform: logs:PutLogEvents on resource: arn:aws:logs:us-east-1:123456789012:log-group:/x")

    message = public_message(text)

    assert "123456789012" not in message and "arn:" not in message
    assert message.startswith("refused: AccessDeniedException: User: (redacted)")


def agent_with_api(tmp_path: Path) -> tuple[AgentProcess, str, tuple[str, int]]:
    """A running agent with its API answering: the agent, the API's URL and its host and port."""
    (tmp_path / "logs").mkdir()
    cfg = config(tmp_path)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: http_get(f"{api}/healthz")[0] == 200, 30, "the API")
    host, port = api.removeprefix("http://").split(":")
    return agent, api, (host, int(port))


def _still_open(connection: socket.socket) -> bool:
    connection.setblocking(False)
    try:
        return connection.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _answers_once_slots_free(api: str) -> bool:
    wait_for(lambda: http_get(f"{api}/healthz")[0] == 200, HEAD_TIMEOUT + 10, "the API answering again")
    return True

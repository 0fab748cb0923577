"""The forward source with real clients: the Fluentd project's Python client (fluent-logger) and
its Node.js client (acks, packed and gzip modes, the shared-key handshake, TLS), a kill -9 between
storing and acknowledging, and hostile bytes from a raw socket."""

from __future__ import annotations

import json
import socket
import subprocess
from collections import Counter
from pathlib import Path

import msgpack
import pytest
from fluent import sender as fluent_sender

from peers.pki import CertificateAuthority
from peers.rsyslog import free_port
from shipper.sources.forward.protocol import event_time
from tests.agent_process import AgentProcess, http_get, wait_for, with_api, write_config

CLIENT = Path(__file__).resolve().parents[2] / "peers" / "forward_client" / "send.js"


def forward_config(tmp_path: Path, port: int, **source) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"docker": {"type": "forward", "address": f"127.0.0.1:{port}", **source}},
        "sinks": {"out": {"type": "console", "inputs": ["docker"]}},
    })


class Output:
    """The console sink's JSON lines, read as they grow."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = open(path, "wb")  # noqa: SIM115 - the agent writes to it for the test's length

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]

    def messages(self) -> list[str]:
        return [event["message"] for event in self.events()]


def start_agent(tmp_path: Path, port: int, output: Output, **source) -> AgentProcess:
    agent = AgentProcess(forward_config(tmp_path, port, **source), stdout=output.handle)
    wait_for(lambda: _listening(port), 30, "the forward source listening")
    return agent


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def node_client(port: int, count: int, **options) -> subprocess.Popen:
    return subprocess.Popen(["node", str(CLIENT), json.dumps({"port": port, "count": count, **options})],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(client: subprocess.Popen, timeout: float = 60) -> str:
    out, err = client.communicate(timeout=timeout)
    assert client.returncode == 0, err
    return out


def numbered(count: int, start: int = 0) -> list[str]:
    return [f"record {n:06d}" for n in range(start, start + count)]


def test_records_of_the_fluentd_python_client_arrive_with_their_tag_time_and_fields(tmp_path):
    port, output = free_port(), Output(tmp_path / "out.jsonl")
    agent = start_agent(tmp_path, port, output)
    client = fluent_sender.FluentSender("docker", port=port, nanosecond_precision=True)

    for n in range(2_000):
        assert client.emit_with_time("web", 1_700_000_000.25 + n, {"log": f"line {n}", "container_name": "/web",
                                                                   "source": "stdout"})
    integer_time = fluent_sender.FluentSender("legacy", port=port)  # seconds as an integer
    assert integer_time.emit_with_time(None, 1_700_000_000, {"message": "plain"})
    client.close()
    integer_time.close()
    wait_for(lambda: len(output.messages()) >= 2_001, 30, "every record")
    assert agent.terminate(timeout=20) == 0

    events = output.events()
    assert [e["message"] for e in events[:2_000]] == [f"line {n}" for n in range(2_000)]
    first = events[0]
    assert (first["tag"], first["container_name"], first["source"], first["source_type"]) == \
        ("docker.web", "/web", "stdout", "forward")
    assert first["timestamp"] == "2023-11-14T22:13:20.250000000Z"
    assert (events[2_000]["message"], events[2_000]["tag"]) == ("plain", "legacy")
    assert events[2_000]["timestamp"] == "2023-11-14T22:13:20.000000000Z"


@pytest.mark.parametrize("mode", ["Message", "CompressedPackedForward"])
def test_the_node_client_with_acks_delivers_every_record_once(tmp_path, mode):
    port, output = free_port(), Output(tmp_path / "out.jsonl")
    agent = start_agent(tmp_path, port, output)

    assert finished(node_client(port, 2_000, mode=mode)).strip() == "sent 2000"
    wait_for(lambda: len(output.messages()) >= 2_000, 30, "every record")
    assert agent.terminate(timeout=20) == 0

    assert sorted(output.messages()) == numbered(2_000)
    assert {e["tag"] for e in output.events()} == {"app"}


def test_kill_9_between_storing_and_acking_loses_nothing_and_repeats_only_what_was_not_acked(tmp_path):
    port, output = free_port(), Output(tmp_path / "out.jsonl")
    agent = start_agent(tmp_path, port, output)
    client = node_client(port, 3_000, ackTimeout=1000)
    wait_for(lambda: len(output.messages()) >= 1_000, 60, "a third of the records")

    agent.kill()
    start_agent(tmp_path, port, output)
    assert finished(client, timeout=120).strip() == "sent 3000"
    wait_for(lambda: set(output.messages()) >= set(numbered(3_000)), 60, "every record after the restart")

    counts = Counter(output.messages())
    assert [m for m in numbered(3_000) if m not in counts] == []  # nothing lost
    repeated = sum(n - 1 for n in counts.values())
    assert repeated <= 5  # the client sends one record at a time: the one in flight, the console's last write


def test_a_shared_key_and_a_user_over_tls_are_required_and_a_wrong_key_is_refused(tmp_path, tmp_path_factory,
                                                                                 monkeypatch):
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    server = ca.issue("forward")
    port, output = free_port(), Output(tmp_path / "out.jsonl")
    monkeypatch.setenv("FORWARD_KEY", "k3y-s3cr3t")  # the agent inherits the environment
    monkeypatch.setenv("FORWARD_PASSWORD", "pa55-s3cr3t")
    tls = {"cert_file": str(server.cert_file), "key_file": str(server.key_file)}
    users = [{"username": "node", "password": "${FORWARD_PASSWORD}"}]
    cfg = forward_config(tmp_path, port, tls=tls, shared_key="${FORWARD_KEY}", users=users)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=output.handle)
    wait_for(lambda: _listening(port), 30, "listening")

    good = node_client(port, 300, ca=str(ca.ca_file), sharedKey="k3y-s3cr3t", username="node",
                       password="pa55-s3cr3t")
    assert finished(good).strip() == "sent 300"
    wrong = node_client(port, 10, start=1_000, ca=str(ca.ca_file), sharedKey="wrong", username="node",
                        password="pa55-s3cr3t")
    wait_for(lambda: 'error="handshake"' in http_get(f"{api}/metrics")[1], 30, "the wrong key refused")
    wrong.kill()
    wrong.communicate()
    assert agent.terminate(timeout=20) == 0

    assert sorted(output.messages()) == numbered(300)
    assert "s3cr3t" not in agent.log()
    assert "shared key mismatch" in agent.log()


def raw(port: int, payload: bytes) -> bytes:
    """Send `payload` on a fresh connection; the server's first answer, or b"" once it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(payload)
        return connection.recv(4096)


def test_hostile_bytes_close_that_connection_alone_and_the_fluent_bit_entry_form_is_taken(tmp_path):
    port, output = free_port(), Output(tmp_path / "out.jsonl")
    cfg = forward_config(tmp_path, port, max_message_size="64KiB")
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=output.handle)
    wait_for(lambda: _listening(port), 30, "listening")
    steady = socket.create_connection(("127.0.0.1", port))  # a client that keeps its connection meanwhile

    assert raw(port, b"\xc1\xc1\xc1") == b""  # never-used msgpack bytes: closed without an answer
    assert raw(port, msgpack.packb(["tag", "x" * 100_000])) == b""  # larger than max_message_size
    entry = [[event_time(1_700_000_000, 5), {"otlp": {}}], {"log": "from fluent bit"}]  # Fluent Bit 2+'s form
    answer = raw(port, msgpack.packb(["fb", [entry], {"chunk": "abc"}]))
    steady.sendall(msgpack.packb(["steady", 1_700_000_000, {"log": "still served"}]))
    wait_for(lambda: len(output.messages()) >= 2, 30, "both records")
    metrics = http_get(f"{api}/metrics")[1]
    steady.close()
    assert agent.terminate(timeout=20) == 0

    assert msgpack.unpackb(answer) == {"ack": "abc"}
    assert sorted(output.messages()) == ["from fluent bit", "still served"]
    assert 'error="malformed"' in metrics and 'error="message_too_large"' in metrics
    assert "Traceback" not in agent.log()



def test_connections_beyond_max_connections_and_idle_ones_are_closed_while_the_others_are_served(tmp_path):
    port, output = free_port(), Output(tmp_path / "out.jsonl")
    cfg = forward_config(tmp_path, port, max_connections=2, idle_timeout="500ms")
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=output.handle)
    wait_for(lambda: _listening(port), 30, "listening")
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    first.sendall(msgpack.packb(["a", 1_700_000_000, {"log": "one"}]))
    wait_for(lambda: output.messages() == ["one"], 30, "the first served")  # the listening probe is gone by then
    second = socket.create_connection(("127.0.0.1", port), timeout=10)
    second.sendall(msgpack.packb(["a", 1_700_000_000, {"log": "two"}]))
    wait_for(lambda: output.messages() == ["one", "two"], 30, "the second served")

    third = socket.create_connection(("127.0.0.1", port), timeout=10)
    refused = third.recv(1)  # closed at once
    idle_closed = second.recv(1)  # nothing more sent for idle_timeout: closed
    metrics = http_get(f"{api}/metrics")[1]
    for connection in (first, second, third):
        connection.close()
    assert agent.terminate(timeout=20) == 0

    assert refused == b"" and idle_closed == b""
    assert 'error="too_many_connections"' in metrics

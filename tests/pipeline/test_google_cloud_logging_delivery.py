"""The agent writing to a strict Cloud Logging stand-in on loopback (entries.write, the OAuth token
endpoint, the metadata server): every line once with a service account key and with the metadata
server's credentials, tokens refreshed before they expire, retries, a missing role, entries refused
alone, an oversize line split, kill -9 with requests in flight, and no secret in the agent's log."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from peers.fake_google_logging import FakeGoogleCloud
from tests.agent_process import AgentProcess, numbered, scraped, wait_for, with_api, write_config, write_lines


@pytest.fixture
def google(monkeypatch):
    server = FakeGoogleCloud().start()
    host = server.url.removeprefix("http://")
    monkeypatch.setenv("GCE_METADATA_HOST", host)  # the agent's metadata server, as google-auth reads it
    monkeypatch.setenv("GCE_METADATA_IP", host)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    yield server
    server.stop()


def gcl_config(tmp_path: Path, google: FakeGoogleCloud, key: bool = True, source: dict | None = None,
               **sink) -> Path:
    credentials = {"credentials_file": str(google.service_account_file(tmp_path))} if key else {}
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "poll_interval": "20ms",
                            **(source or {})}},
        "sinks": {"gcl": {"type": "google_cloud_logging", "inputs": ["app"], "project_id": google.project_id,
                          "endpoint": google.url, "batch_timeout": "100ms", **credentials, **sink}},
    })


def test_every_line_arrives_once_in_order_as_an_entry_signed_in_with_a_service_account_key(tmp_path, google):
    lines = numbered(5_000)
    write_lines(tmp_path, lines)
    cfg = gcl_config(tmp_path, google, max_requests_in_flight=1, max_batch_events=700, log_name="app/{file}",
                     labels={"env": "test", "file": "{file}", "absent": "{no.such.field}"})
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(google.entries()) >= len(lines), 60, "every line stored")
    assert agent.terminate(timeout=20) == 0

    assert google.messages() == lines and google.refused == []
    entry = google.entries()[0]
    log_file = str(tmp_path / "logs" / "app.log")
    assert entry["logName"] == f"projects/{google.project_id}/logs/" + ("app/" + log_file).replace("/", "%2F")
    assert entry["labels"] == {"env": "test", "file": log_file}
    assert entry["resource"] == {"type": "gce_instance", "labels": {  # the metadata server's instance
        "project_id": google.project_id, "instance_id": "4520031799277581759", "zone": "europe-west1-b"}}
    assert entry["severity"] == "DEFAULT" and entry["timestamp"].endswith("Z")
    assert len({entry["insertId"] for entry in google.entries()}) == len(lines)
    assert google.tokens_issued == {"key": 1, "metadata": 0} and google.unauthorized == 0


def test_without_a_key_the_metadata_servers_credentials_are_used(tmp_path, google):
    lines = numbered(2_000)
    write_lines(tmp_path, lines)
    cfg = gcl_config(tmp_path, google, key=False, payload="text", log_name="plain", compression="gzip")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(google.entries()) >= len(lines), 60, "every line stored")
    assert agent.terminate(timeout=20) == 0

    assert google.messages() == lines
    assert google.entries()[0]["textPayload"] == lines[0]
    assert google.tokens_issued["metadata"] >= 1 and google.tokens_issued["key"] == 0


def test_a_token_is_refreshed_before_it_expires(tmp_path, google):
    google.token_lifetime = 228  # google-auth counts a token stale 225 s before its expiry: 3 s of use
    cfg = gcl_config(tmp_path, google)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    written: list[str] = []

    def keep_writing() -> bool:
        more = numbered(50, start=len(written))
        write_lines(tmp_path, more)
        written.extend(more)
        return google.tokens_issued["key"] >= 3

    wait_for(keep_writing, 60, "three tokens issued while lines keep coming", interval=0.5)
    wait_for(lambda: len(google.entries()) >= len(written), 60, "every line stored")
    assert agent.terminate(timeout=20) == 0

    assert google.messages() == written
    assert google.unauthorized == 0  # never sent with an expired token


def test_throttling_and_outages_are_waited_out_and_a_missing_role_makes_the_sink_not_ready(tmp_path, google):
    lines = numbered(3_000)
    write_lines(tmp_path, lines)
    google.answer(429, count=2)
    google.answer(503, count=2)
    google.answer(403, count=4)
    cfg = gcl_config(tmp_path, google, max_batch_events=500, max_requests_in_flight=1)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(google.entries()) >= len(lines), 90, "every line stored")
    retried = scraped(api, "shipper_retries_total", component_id="gcl")
    assert agent.terminate(timeout=20) == 0

    assert google.messages() == lines
    assert retried == 8
    assert "roles/logging.logWriter" in agent.log()


def test_entries_refused_alone_are_counted_and_the_others_stored(tmp_path, google):
    lines = numbered(1_000)
    write_lines(tmp_path, lines)
    google.reject_containing("line 0004")  # 100 lines: 000400 to 000499
    cfg = gcl_config(tmp_path, google, max_batch_events=250)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(google.entries()) >= 900, 60, "every line but the refused")
    wait_for(lambda: scraped(api, "shipper_events_discarded_total", component_id="gcl",
                             reason="rejected_by_receiver") == 100, 10, "the refused counted")
    wait_for(lambda: scraped(api, "shipper_events_sent_total", component_id="gcl") == 900, 10, "the rest counted sent")
    assert agent.terminate(timeout=20) == 0

    assert google.messages() == [line for line in lines if "line 0004" not in line]


def test_a_line_past_the_entry_limit_is_split_into_linked_entries(tmp_path, google):
    long_line = "x" * 400_000 + "é" * 100_000 + "end"  # 600 KB: three entries
    lines = ["before", long_line, "after"]
    write_lines(tmp_path, lines)
    cfg = gcl_config(tmp_path, google, source={"max_line_size": "1MiB"})
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(google.messages()) >= 3, 60, "every line stored")
    split = scraped(api, "shipper_input_anomalies_total", component_id="gcl", kind="oversize_split")
    assert agent.terminate(timeout=20) == 0

    assert google.messages() == lines and google.refused == []
    pieces = [entry["split"] for entry in google.entries() if "split" in entry]
    assert len(pieces) >= 3 and {piece["totalSplits"] for piece in pieces} == {len(pieces)}
    assert split == 1


def test_kill_9_with_requests_in_flight_loses_nothing_and_repeats_under_the_same_insert_ids(tmp_path, google):
    lines = numbered(20_000)
    write_lines(tmp_path, lines)
    cfg = gcl_config(tmp_path, google, max_batch_events=1000, max_requests_in_flight=4)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: len(google.entries()) >= 5_000, 60, "a quarter of the lines stored")

    agent.kill()
    AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: set(google.messages()) >= set(lines), 60, "every line after the restart")

    by_id = {(entry["insertId"], entry["timestamp"]): entry["jsonPayload"]["message"] for entry in google.entries()}
    shown = Counter(by_id.values())
    assert sorted(shown) == lines and set(shown.values()) == {1}, \
        f"as Cloud Logging shows them: {len(lines) - len(shown)} missing, {sum(shown.values()) - len(shown)} twice"
    repeated = {line: n for line, n in Counter(google.messages()).items() if n > 1}
    assert set(repeated.values()) <= {2}, f"sent 3 times or more: {sorted(set(repeated.values()))}"
    assert len(repeated) <= 4 * 1000, f"{len(repeated)} lines sent again: more than the 4 requests in flight"


def test_no_key_or_token_reaches_the_agents_log(tmp_path, google):
    lines = numbered(500)
    write_lines(tmp_path, lines)
    google.token_lifetime = 226  # a new token at almost every request
    google.answer(401, count=2)
    cfg = gcl_config(tmp_path, google)
    cfg.write_text("log: {level: debug, sdk_debug: true}\n" + cfg.read_text())
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(google.entries()) >= len(lines), 60, "every line stored")
    assert agent.terminate(timeout=20) == 0

    log = agent.log()
    assert google.tokens and not any(token in log for token in google.tokens)
    assert google.private_key_text not in log and "PRIVATE KEY" not in log

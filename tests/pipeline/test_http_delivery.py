"""The agent POSTing to a real HTTP collector on loopback: every line once, the encodings, kill -9
with requests in flight, 429 storms, a batch the server refuses, 413, credentials and TLS."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from peers.http_collector import HttpCollector
from peers.pki import CertificateAuthority, Issued
from tests.agent_process import (
    AgentProcess,
    http_get,
    numbered,
    scraped,
    wait_for,
    with_api,
    write_config,
    write_lines,
)


@pytest.fixture
def collector():
    server = HttpCollector().start()
    yield server
    server.stop()


def http_config(tmp_path: Path, uri: str, **sink) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "poll_interval": "20ms"}},
        "sinks": {"collector": {"type": "http", "inputs": ["app"], "uri": uri, "batch_timeout": "100ms", **sink}},
    })


def server_context(issued: Issued) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.cert_file, issued.key_file)
    return context


def test_every_line_arrives_once_in_order_as_ndjson_with_its_fields(tmp_path, collector):
    lines = numbered(20_000)
    write_lines(tmp_path, lines)
    cfg = http_config(tmp_path, f"{collector.url}/logs", max_requests_in_flight=1, max_batch_events=500)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(collector.messages()) >= len(lines), 60, "every line at the collector")
    assert agent.terminate(timeout=20) == 0

    assert collector.messages() == lines
    first = collector.events()[0]
    assert first["file"] == str(tmp_path / "logs" / "app.log") and first["timestamp"].endswith("Z")
    request = collector.accepted()[0]
    assert (request.method, request.path) == ("POST", "/logs")
    assert request.headers["content-type"] == "application/x-ndjson"
    assert max(len(r.body.splitlines()) for r in collector.accepted()) == 500


@pytest.mark.parametrize(("encoding", "compression"), [("json_array", "gzip"), ("text", "none")])
def test_the_other_encodings_and_gzip_carry_the_same_lines(tmp_path, collector, encoding, compression):
    lines = numbered(3_000)
    write_lines(tmp_path, lines)
    cfg = http_config(tmp_path, collector.url, encoding=encoding, compression=compression, max_requests_in_flight=1)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(collector.messages()) >= len(lines), 60, "every line at the collector")
    assert agent.terminate(timeout=20) == 0

    assert collector.messages() == lines
    request = collector.accepted()[0]
    assert request.headers.get("content-encoding") == ("gzip" if compression == "gzip" else None)
    assert (request.sent_size < len(request.body) / 3) == (compression == "gzip")


def test_kill_9_with_requests_in_flight_loses_nothing_and_repeats_only_those_requests(tmp_path, collector):
    lines = numbered(30_000)
    write_lines(tmp_path, lines)
    collector.hold(0.2)  # answers come late: requests are in flight at the kill
    cfg = http_config(tmp_path, collector.url, max_batch_events=1000, max_requests_in_flight=4)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: len(collector.messages()) >= 10_000, 60, "a third of the lines delivered")

    agent.kill()
    collector.hold(0)
    AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: set(collector.messages()) >= set(lines), 60, "every line after the restart")

    counts = Counter(collector.messages())
    lost = [line for line in lines if line not in counts]
    repeated = {line: n for line, n in counts.items() if n > 1}
    assert lost == []
    assert set(repeated.values()) <= {2}
    assert len(repeated) <= 4 * 1000  # at most the requests that were in flight at the kill


def test_a_429_storm_is_waited_out_with_retry_after_and_every_line_arrives_once(tmp_path, collector):
    lines = numbered(5_000)
    write_lines(tmp_path, lines)
    collector.answer(429, count=12, retry_after=0.3)
    collector.answer(503, count=3)
    cfg = http_config(tmp_path, collector.url, max_batch_events=500)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(collector.messages()) >= len(lines), 60, "every line at the collector")
    retried = scraped(api, "shipper_retries_total", component_id="collector", failure="429")
    assert agent.terminate(timeout=20) == 0

    assert sorted(collector.messages()) == lines
    assert collector.statuses[429] == 12 and collector.statuses[503] == 3
    assert retried == 12


def test_a_redirect_makes_the_sink_not_ready_with_its_location_keeps_the_lines_and_a_bad_retry_after_is_ignored(
        tmp_path, collector):
    lines = numbered(1_000)
    write_lines(tmp_path, lines)
    collector.answer(503, count=2, retry_after="\u00b2")  # a digit to Python, not delay-seconds
    collector.answer(301, count=3, location="https://elsewhere.example/logs?key=s3cr3t")
    cfg = http_config(tmp_path, collector.url)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "not ready")
    readyz = json.loads(http_get(f"{api}/readyz")[1])
    wait_for(lambda: len(collector.messages()) >= len(lines), 60, "every line once the redirects stop")
    assert agent.terminate(timeout=20) == 0

    assert collector.messages() == lines
    problem = readyz["problems"]["collector"]
    assert problem["reason"] == "redirect:301" and "https://elsewhere.example/logs" in problem["message"]
    assert "s3cr3t" not in json.dumps(readyz) and "s3cr3t" not in agent.log()
    assert collector.statuses[503] == 2 and collector.statuses[301] == 3 and "Traceback" not in agent.log()


def test_a_batch_the_server_refuses_with_400_is_discarded_and_counted_and_the_rest_arrive(tmp_path, collector):
    lines = numbered(2_000)
    lines[1234] = "poison line"
    write_lines(tmp_path, lines)
    collector.refuse_containing("poison", 400)
    cfg = http_config(tmp_path, collector.url, max_batch_events=100)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: scraped(api, "shipper_events_discarded_total", reason="http_400") > 0, 60, "the refusal")
    wait_for(lambda: len(collector.messages()) + scraped(api, "shipper_events_discarded_total", reason="http_400")
             >= len(lines), 60, "every other line at the collector")
    discarded = scraped(api, "shipper_events_discarded_total", reason="http_400")
    assert agent.terminate(timeout=20) == 0

    missing = sorted(set(lines) - set(collector.messages()))
    assert "poison line" in missing and 1 <= len(missing) <= 100
    assert discarded == len(missing)
    assert collector.statuses[400] == 1
    assert "HTTP 400" in agent.log() and "Traceback" not in agent.log()


def test_a_batch_refused_as_too_large_is_sent_in_halves_until_it_is_taken(tmp_path, collector):
    lines = numbered(1_000)
    lines[500] = "big " + "x" * 20_000
    write_lines(tmp_path, lines)
    collector.limit_body(8_000)  # bodies over 8,000 bytes get 413
    cfg = http_config(tmp_path, collector.url, max_batch_events=200, max_requests_in_flight=1)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(collector.messages()) >= len(lines) - 1, 60, "every line that fits")
    discarded = scraped(api, "shipper_events_discarded_total", reason="http_413")
    assert agent.terminate(timeout=20) == 0

    assert collector.messages() == [line for line in lines if not line.startswith("big ")]
    assert discarded == 1  # the one record larger than the server takes, alone
    assert collector.statuses[413] > 1


def test_a_refused_token_makes_the_sink_not_ready_keeps_the_lines_and_never_shows_the_token(
        tmp_path, collector, monkeypatch):
    lines = numbered(1_000)
    write_lines(tmp_path, lines)
    collector.require("Authorization", "Bearer right-token")
    monkeypatch.setenv("COLLECTOR_TOKEN", "wrong-token-s3cr3t")
    cfg = http_config(tmp_path, collector.url, auth={"strategy": "bearer", "token": "${COLLECTOR_TOKEN}"})
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "not ready")
    readyz = json.loads(http_get(f"{api}/readyz")[1])
    collector.require("Authorization", "Bearer wrong-token-s3cr3t")  # the server takes our token from now on
    wait_for(lambda: len(collector.messages()) >= len(lines), 60, "every line once the token is taken")
    wait_for(lambda: http_get(f"{api}/readyz")[0] == 200, 30, "ready again")
    exposition = http_get(f"{api}/metrics")[1]
    assert agent.terminate(timeout=20) == 0

    assert collector.messages() == lines
    assert readyz["problems"]["collector"]["reason"] == "unauthorized:401"
    assert "s3cr3t" not in agent.log() and "s3cr3t" not in json.dumps(readyz) and "s3cr3t" not in exposition
    assert collector.statuses[401] >= 1


def test_https_with_the_test_ca_delivers_and_a_server_the_ca_did_not_sign_is_refused(tmp_path, tmp_path_factory):
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    stranger = CertificateAuthority(tmp_path_factory.mktemp("other-pki"))
    trusted = HttpCollector().start(tls=server_context(ca.issue("server")))
    untrusted = HttpCollector().start(tls=server_context(stranger.issue("server")))
    try:
        lines = numbered(500)
        write_lines(tmp_path, lines)
        cfg = http_config(tmp_path, trusted.url, tls={"ca_file": str(ca.ca_file)})
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: len(trusted.messages()) >= len(lines), 60, "every line over TLS")
        assert agent.terminate(timeout=20) == 0
        assert trusted.messages() == lines

        other = tmp_path / "other"
        other.mkdir()
        write_lines(other, lines)
        cfg = http_config(other, untrusted.url, tls={"ca_file": str(ca.ca_file)})
        api = with_api(cfg)
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "not ready: the certificate is refused")
        assert "certificate" in http_get(f"{api}/readyz")[1]
        assert agent.terminate(timeout=20) == 0
        assert untrusted.messages() == []
    finally:
        trusted.stop()
        untrusted.stop()

"""Against an endpoint that enforces every PutLogEvents rule: huge, empty, old and future lines."""

from __future__ import annotations

import ssl
import subprocess
import time

import pytest

from peers.fake_cloudwatch import FakeCloudWatch
from peers.pki import CertificateAuthority
from tests.agent_process import AgentProcess, http_get, spooled_messages, wait_for, with_api
from tests.cloudwatch import agent_config
from tests.node import cri_time, make_pod, write_cri

DAY_NS = 24 * 3600 * 10**9


@pytest.fixture
def strict():
    server = FakeCloudWatch().start()
    yield server
    server.stop()


def test_huge_empty_and_unicode_lines_are_split_within_every_limit_and_arrive_whole(tmp_path, strict, aws_env):
    cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")],
                       source={"max_line_size": "4MiB"})
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    lines = ["x" * (3 * 1024 * 1024), "", "é😀" * 200_000, *[f"small {i}" for i in range(25_000)]]
    now = time.time_ns()
    with open(pod_dir / "0.log", "w") as log:
        for i, line in enumerate(lines):
            log.write(f"{cri_time(now + i)} stdout F {line}\n")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: strict.accepted >= 25_003, 60, "every event accepted")
    assert agent.terminate(timeout=30) == 0

    stored = [message for _, message in strict.streams[("/strict/shop", "web-0.app")]]
    assert strict.violations == {}
    first_small = stored.index("small 0")
    assert "".join(stored[:4]) == lines[0]  # 3 MiB in 4 pieces of at most 1 MiB - 26, each a batch of its own
    assert stored[4] == " "  # the empty line, as one space
    assert "".join(stored[5:first_small]) == lines[2]
    assert stored[first_small:] == lines[3:]
    assert max(len(m.encode()) for m in stored) == 1024 * 1024 - 26


def test_events_too_old_or_too_new_are_counted_acknowledged_and_not_retried(tmp_path, strict, aws_env):
    cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")])
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    now = time.time_ns()
    with open(pod_dir / "0.log", "w") as log:
        log.write(f"{cri_time(now - 20 * DAY_NS)} stdout F ancient\n")
        log.write(f"{cri_time(now)} stdout F current\n")
        log.write(f"{cri_time(now + DAY_NS // 4)} stdout F future\n")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: "rejected 1 event(s) as too new" in agent.log(), 30, "the future line reported")
    wait_for(lambda: "rejected 1 event(s) as too old" in agent.log(), 30, "the ancient line reported")
    assert agent.terminate(timeout=30) == 0

    assert strict.streams[("/strict/shop", "web-0.app")] == [(now // 10**6, "current")]
    assert strict.calls["PutLogEvents"] <= 4  # one batch per 24 h span (+ creation retries), never a loop
    assert strict.violations == {}


def test_an_endpoint_whose_certificate_fails_verification_makes_the_sink_not_ready_and_keeps_the_records(
        tmp_path, aws_env):
    # before: retried as a passing network fault while /readyz said ready
    untrusted = CertificateAuthority(tmp_path / "untrusted-ca").issue("cloudwatch", ("127.0.0.1",))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(untrusted.cert_file, untrusted.key_file)
    endpoint = FakeCloudWatch().start(tls=tls)
    try:
        cfg = agent_config(tmp_path, endpoint.url, "/certs", [str(tmp_path / "containers" / "*.log")])
        api = with_api(cfg)
        write_cri(make_pod(tmp_path, "shop", "web-0"), ["kept 1", "kept 2"])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

        wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "/readyz not ready")
        body = http_get(f"{api}/readyz")[1]
        assert "untrusted" in body and "certificate" in body.lower()
        assert endpoint.accepted == 0
        assert agent.terminate(timeout=30) == 0
    finally:
        endpoint.stop()

    assert [message for _, message in spooled_messages(tmp_path / "data")] == ["kept 1", "kept 2"]

"""No secret reaches the agent's log, at debug with the SDK's own debug output on, in every format:
neither static credentials with a session token, nor the ones an IRSA refresh brings from STS."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from peers.fake_cloudwatch import FakeCloudWatch
from peers.fault_proxy import FaultProxy
from tests.agent_process import AgentProcess, wait_for
from tests.cloudwatch import agent_config, count_arrived, logs_client, unique_prefix, use_irsa
from tests.node import make_pod, write_cri

SDK_DEBUG_LINE = re.compile(r"debug\W{1,12}(logger=|\"logger\":\")?botocore", re.IGNORECASE)
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+shippertest+token/with=padding=="


def debug_everything(config_path, format: str) -> None:
    config = yaml.safe_load(config_path.read_text())
    config["log"] = {"level": "debug", "format": format, "sdk_debug": True}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.parametrize("format", ["text", "json", "logfmt"])
def test_static_credentials_and_session_token_appear_nowhere_at_debug(tmp_path, monkeypatch, format):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAQSHIPPERTESTKEY1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    endpoint = FakeCloudWatch().start()
    try:
        cfg = agent_config(tmp_path, endpoint.url, "/secrets", [str(tmp_path / "containers" / "*.log")])
        debug_everything(cfg, format)
        write_cri(make_pod(tmp_path, "shop", "web-0"), ["a line"])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: endpoint.accepted == 1, 30, "the line delivered")
        assert agent.terminate(timeout=30) == 0
    finally:
        endpoint.stop()

    log = agent.log()
    assert SDK_DEBUG_LINE.search(log)  # the SDK's debug output was on
    for secret in (SECRET_KEY, SESSION_TOKEN, SESSION_TOKEN[:40], SESSION_TOKEN[-40:], "QSHIPPERTESTKEY1"):
        assert secret not in log


@pytest.mark.localstack
def test_credentials_an_irsa_refresh_brings_from_sts_appear_nowhere_at_debug(tmp_path, localstack, aws_env,
                                                                              monkeypatch):
    proxy = FaultProxy(localstack).start()
    try:
        use_irsa(monkeypatch, tmp_path, proxy.url)
        prefix = unique_prefix()
        cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")])
        debug_everything(cfg, "text")
        write_cri(make_pod(tmp_path, "shop", "web-0"), ["via irsa"])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: count_arrived(logs_client(localstack), prefix) == 1, 60, "the line delivered")
        assert agent.terminate(timeout=30) == 0
        answer = proxy.answers["AssumeRoleWithWebIdentity"].decode()
    finally:
        proxy.stop()

    secrets = [re.search(f"<{tag}>([^<]+)</{tag}>", answer)[1] for tag in ("SecretAccessKey", "SessionToken")]
    log = agent.log()
    assert SDK_DEBUG_LINE.search(log)  # the SDK's debug output was on
    for secret in secrets:
        assert len(secret) >= 16 and secret not in log

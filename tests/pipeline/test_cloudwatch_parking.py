"""A stream CloudWatch refuses (its group missing, creation off) never stops the node: it is parked
with its records set aside in the spool, the other streams deliver, /readyz stays ready and lists
it, and once the group exists (a SIGHUP retries at once) every parked line arrives exactly once,
in order, across a kill -9."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.agent_process import AgentProcess, http_get, wait_for, with_api
from tests.cloudwatch import agent_config, arrived, count_arrived, logs_client, unique_prefix
from tests.node import make_pod, write_cri

pytestmark = pytest.mark.localstack

LOCKED_LINES = 40_000  # more than the sink holds in memory (30,000 events): unparked, it would stop the reader


def shop_lines(start: int, count: int) -> list[str]:
    return [f"shop {i:06d}" for i in range(start, start + count)]


def test_a_stream_whose_group_is_missing_is_parked_while_the_others_deliver_then_arrives_exactly_once(
        tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    client.create_log_group(logGroupName=f"{prefix}/shop")  # locked's group does not exist, nor may be made
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")],
                       create_missing_group=False)
    api = with_api(cfg)
    locked = make_pod(tmp_path, "locked", "app-0")
    shop = make_pod(tmp_path, "shop", "web-0")
    locked_lines = [f"locked {i:06d}" for i in range(LOCKED_LINES)]
    write_cri(locked, locked_lines)  # read first: its records fill what the sink holds in memory
    write_cri(shop, shop_lines(0, 500))

    first = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: count_arrived(client, prefix) >= 500, 60, "the shop stream delivered past the locked one")
    status, body = http_get(f"{api}/readyz")
    assert status == 200
    assert list(json.loads(body)["parked"]["cw"]) == [f"{prefix}/locked/app-0.app"]
    assert "ResourceNotFoundException" in json.loads(body)["parked"]["cw"][f"{prefix}/locked/app-0.app"]

    first.kill()  # parked records survive a crash, and are neither lost nor parked twice
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    write_cri(shop, shop_lines(500, 500))
    wait_for(lambda: count_arrived(client, prefix) >= 1000, 60, "shop delivers after the restart too")
    write_cri(locked, ["locked after the restart"])

    client.create_log_group(logGroupName=f"{prefix}/locked")
    agent.signal(signal.SIGHUP)  # parked streams are tried again at once
    wait_for(lambda: count_arrived(client, prefix) >= 1000 + LOCKED_LINES + 1, 120, "the parked lines delivered")
    wait_for(lambda: "parked" not in json.loads(http_get(f"{api}/readyz")[1]), 30, "no stream parked any more")
    assert agent.terminate(timeout=30) == 0

    assert arrived(client, prefix) == {
        (f"{prefix}/shop", "web-0.app"): shop_lines(0, 1000),
        (f"{prefix}/locked", "app-0.app"): [*locked_lines, "locked after the restart"],
    }
    assert "app-0.app parked: ResourceNotFoundException" in first.log()
    assert "delivers again; its parked records are all sent" in agent.log()

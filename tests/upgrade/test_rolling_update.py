"""A rolling update and a rollback lose nothing: the agent of this tree continues the spool that the
previous release (installed from its commit, CHANGELOG.md) left with a backlog, checkpoints in the
middle of files and a parked stream, against LocalStack; and the previous release continues what this
one left, then this one again. Every line arrives exactly once, in order per stream."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.fault_proxy import FaultProxy
from shipper.buffer.layout import SPOOL_FILE, SPOOL_VERSION, stored_version
from tests.agent_process import AgentProcess, committed_offsets, http_get, wait_for, with_api
from tests.cloudwatch import agent_config, arrived, count_arrived, logs_client, unique_prefix
from tests.node import make_pod, write_cri
from tests.upgrade.releases import install, previous_release

pytestmark = pytest.mark.localstack

CURRENT = [sys.executable, "-m", "shipper"]


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> list[str]:
    """The previous release's `shipper` command, in a venv of its own."""
    return [str(install(previous_release(), tmp_path_factory.mktemp("previous-release")))]


@pytest.fixture
def proxy(localstack) -> Iterator[FaultProxy]:
    running = FaultProxy(localstack).start()
    yield running
    running.stop()


class Node:
    """Two pods' files, a CloudWatch sink behind a proxy that can cut it off, one data dir; the
    lines written so far, per stream, are what CloudWatch must end up holding."""

    def __init__(self, tmp_path: Path, localstack: str, proxy: FaultProxy):
        self.prefix = unique_prefix()
        self.client = logs_client(localstack)
        self.client.create_log_group(logGroupName=f"{self.prefix}/shop")  # locked's group is made later
        self.config = agent_config(tmp_path, proxy.url, self.prefix, [str(tmp_path / "containers" / "*.log")],
                                   create_missing_group=False)
        self.api = with_api(self.config)
        self.data_dir = tmp_path / "data"
        self.pods = {"shop": make_pod(tmp_path, "shop", "web-0"), "locked": make_pod(tmp_path, "locked", "app-0")}
        self.written: dict[str, list[str]] = {"shop": [], "locked": []}

    def write(self, pod: str, count: int) -> None:
        start = len(self.written[pod])
        lines = [f"{pod} {n:06d}" for n in range(start, start + count)]
        write_cri(self.pods[pod], lines)
        self.written[pod] += lines

    def start(self, command: list[str]) -> AgentProcess:
        agent = AgentProcess(self.config, subprocess.DEVNULL,
                             command=[*command, "run", "--config", str(self.config)])
        agent.wait_until_running()
        return agent

    def delivered(self) -> int:
        return count_arrived(self.client, self.prefix)

    def all_read(self) -> bool:
        offsets = {Path(link).resolve(): offset for link, offset in committed_offsets(self.data_dir).items()}
        return all(offsets.get((pod / "0.log").resolve()) == (pod / "0.log").stat().st_size
                   for pod in self.pods.values())

    def parked(self) -> dict:
        return json.loads(http_get(f"{self.api}/readyz")[1]).get("parked", {})

    def expected(self) -> dict[tuple[str, str], list[str]]:
        return {(f"{self.prefix}/shop", "web-0.app"): self.written["shop"],
                (f"{self.prefix}/locked", "app-0.app"): self.written["locked"]}


def leave_a_spool_mid_flight(node: Node, proxy: FaultProxy, command: list[str]) -> None:
    """Run `command` until some lines are delivered, a stream is parked and a backlog waits behind an
    outage; stop it with SIGTERM and write more after its checkpoints."""
    node.write("shop", 300)
    node.write("locked", 100)
    agent = node.start(command)
    wait_for(lambda: node.delivered() >= 300, 60, "the shop lines delivered")
    wait_for(lambda: bool(node.parked()), 30, "the locked stream parked")
    proxy.outage(True)
    node.write("shop", 300)
    node.write("locked", 50)
    wait_for(node.all_read, 30, "every line read into the spool")
    assert agent.terminate(timeout=30) == 0, agent.log()
    proxy.outage(False)
    node.write("shop", 200)  # after the checkpoints the stopped agent committed
    node.write("locked", 20)


def continue_and_deliver_everything(node: Node, command: list[str]) -> AgentProcess:
    agent = node.start(command)  # a start tries parked streams again at once
    total = sum(map(len, node.written.values()))
    wait_for(lambda: node.delivered() >= total, 120, "every line delivered")
    assert agent.terminate(timeout=30) == 0, agent.log()
    return agent


def test_an_update_from_the_previous_release_delivers_its_backlog_parked_stream_and_files_exactly_once(
        tmp_path, localstack, aws_env, proxy, previous):
    node = Node(tmp_path, localstack, proxy)
    leave_a_spool_mid_flight(node, proxy, previous)
    left_at = stored_version(node.data_dir / SPOOL_FILE)
    node.client.create_log_group(logGroupName=f"{node.prefix}/locked")

    agent = continue_and_deliver_everything(node, CURRENT)

    assert node.delivered() == sum(map(len, node.written.values()))
    assert arrived(node.client, node.prefix) == node.expected()
    assert left_at == previous_release().spool_version
    assert stored_version(node.data_dir / SPOOL_FILE) == SPOOL_VERSION
    if left_at < SPOOL_VERSION:
        assert f"converted from layout version {left_at} to {SPOOL_VERSION}" in agent.log()


def test_a_rollback_to_the_previous_release_and_forward_again_delivers_everything_exactly_once(
        tmp_path, localstack, aws_env, proxy, previous):
    node = Node(tmp_path, localstack, proxy)
    leave_a_spool_mid_flight(node, proxy, CURRENT)
    node.client.create_log_group(logGroupName=f"{node.prefix}/locked")

    continue_and_deliver_everything(node, previous)  # 0.1.0 knows no versions: it must read this layout
    node.write("shop", 100)
    node.write("locked", 10)
    continue_and_deliver_everything(node, CURRENT)

    assert node.delivered() == sum(map(len, node.written.values()))
    assert arrived(node.client, node.prefix) == node.expected()
    assert stored_version(node.data_dir / SPOOL_FILE) == SPOOL_VERSION

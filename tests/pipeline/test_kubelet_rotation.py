"""Container logs rotated the way kubelet does it, under a steady writer, with the agent killed midway."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.agent_process import AgentProcess, committed_offsets, output_messages, wait_for, write_config
from tests.node import CONTAINER_ID, KubeletWriter, make_pod, write_cri


@pytest.mark.slow
def test_kubelet_rotation_with_kills_delivers_every_line_with_pod_metadata(tmp_path):
    pod_dir = tmp_path / "pods" / "shop_web-1_11111111-2222-3333-4444-555555555555" / "app"
    pod_dir.mkdir(parents=True)
    (pod_dir / "0.log").touch()
    containers = tmp_path / "containers"
    containers.mkdir()
    os.symlink(pod_dir / "0.log", containers / f"web-1_shop_app-{CONTAINER_ID}.log")
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"pods": {"type": "kubernetes_logs", "include": [str(containers / "*.log")],
                             "poll_interval": "20ms", "discover_interval": "100ms", "read_block_size": "64KiB"}},
        "sinks": {"out": {"type": "console", "inputs": ["pods"]}},
    })
    # two rotations (a file rotated away entirely) take longer than an agent restart, as with kubelet
    writer = KubeletWriter(pod_dir, lines=30_000, rotate_every=4_000, seed=3, pause_every=50)
    rng = random.Random(11)
    outputs: list[Path] = []
    while not outputs or writer.is_alive():
        outputs.append(tmp_path / f"run-{len(outputs)}.jsonl")
        with open(outputs[-1], "wb") as stdout:
            agent = AgentProcess(cfg, stdout=stdout)
            agent.wait_until_running()
            if len(outputs) == 1:
                # only once an agent tails 0.log: lines rotated away before any agent ever ran are
                # lines no agent can know of (a slow first start on a busy machine lost the first file)
                wait_for(lambda first=agent: "tailing " in first.log(), 30, "the agent to tail 0.log")
                writer.start()
            time.sleep(rng.uniform(0.3, 1.0))
            agent.kill()
    outputs.append(tmp_path / "final.jsonl")
    with open(outputs[-1], "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        wait_for(lambda: {m for p in outputs for m in output_messages(p)} >= set(writer.lines), 60,
                 "every line delivered")
        assert agent.terminate(timeout=10) == 0

    delivered = Counter(m for p in outputs for m in output_messages(p))
    assert writer.rotations >= 6
    assert set(delivered) == set(writer.lines), "lost lines: " + repr(sorted(set(writer.lines) - set(delivered))[:5])
    last = orjson.loads(next(p for p in reversed(outputs) if output_messages(p)).read_bytes().splitlines()[0])
    assert last["kubernetes"] == {"pod_name": "web-1", "namespace": "shop", "container_name": "app",
                                  "container_id": CONTAINER_ID,
                                  "pod_uid": "11111111-2222-3333-4444-555555555555"}
    assert last["stream"] == "stdout"


def test_a_pod_excluded_after_its_log_was_read_is_not_read_again_after_a_restart(tmp_path):
    pod = make_pod(tmp_path, "shop", "web-1")
    write_cri(pod, ["read before the exclusion"])
    source = {"type": "kubernetes_logs", "include": [str(tmp_path / "containers" / "*.log")],
              "poll_interval": "20ms", "discover_interval": "100ms"}
    config = {"data_dir": str(tmp_path / "data"), "shutdown_timeout": "3s", "sources": {"pods": source},
              "sinks": {"out": {"type": "console", "inputs": ["pods"]}}}
    cfg = write_config(tmp_path / "shipper.yaml", config)
    with open(tmp_path / "first.jsonl", "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        wait_for(lambda: output_messages(tmp_path / "first.jsonl") == ["read before the exclusion"], 30, "the line")
        assert agent.terminate(20) == 0
    write_cri(pod, ["written while stopped"])
    cfg = write_config(tmp_path / "shipper.yaml", {**config, "sources": {"pods": {
        **source, "exclude_namespaces": ["shop"]}}})

    with open(tmp_path / "second.jsonl", "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        wait_for(lambda: committed_offsets(tmp_path / "data") == {}, 30, "its checkpoint forgotten")
        assert agent.terminate(20) == 0

    assert output_messages(tmp_path / "second.jsonl") == []

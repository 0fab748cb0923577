"""kill -9 of the agent while it reads the journal: after a restart, no entry lost and none repeated."""

from __future__ import annotations

import random
import time

import pytest

from tests.agent_process import AgentProcess, blocked_pipe, spooled_messages, wait_for, write_config
from tests.journal import entry, write_journal


@pytest.mark.slow
def test_kill_9_mid_read_then_restart_loses_and_repeats_no_entry(tmp_path):
    directory = tmp_path / "journal"
    expected = [f"entry {i:06d}" for i in range(40_000)]
    write_journal(directory / "system.journal", [entry(i, text) for i, text in enumerate(expected[:20_000])])
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"journal": {"type": "journald", "directory": str(directory), "read_from": "beginning",
                                "batch_size": 500}},
        "sinks": {"out": {"type": "console", "inputs": ["journal"]}},
    })
    _, write_end = blocked_pipe()  # nothing is ever delivered: the spool shows exactly what was read
    rng = random.Random(6)

    for kill in range(12):
        agent = AgentProcess(cfg, stdout=write_end)
        time.sleep(rng.uniform(0.3, 1.0))
        agent.kill()
        if kill == 5:  # half-way, the journal grows while the agent is down
            write_journal(directory / "system.journal",
                          [entry(20_000 + i, text) for i, text in enumerate(expected[20_000:])])
        read = [message for _, message in spooled_messages(tmp_path / "data")]
        assert read == expected[: len(read)], "an entry was lost or read twice"

    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: len(spooled_messages(tmp_path / "data")) >= len(expected), 60, "every entry read")
    agent.kill()
    assert [message for _, message in spooled_messages(tmp_path / "data")] == expected

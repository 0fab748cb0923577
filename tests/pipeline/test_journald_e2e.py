"""End to end through a real systemd-journald: `systemd-cat` writes, journald stores, the agent ships.

journald runs in a private mount namespace (`unshare -m`) with a directory of the test bind-mounted
on /run, so the journal files it writes land where the agent, outside, reads them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.agent_process import AgentProcess, blocked_pipe, spooled_messages, wait_for, write_config

JOURNALD_SCRIPT = r"""
set -e
mount --bind "$RUN_DIR" /run
mkdir -p /run/systemd/journal /run/log/journal
/lib/systemd/systemd-journald &
journald=$!
for _ in $(seq 100); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.05; done
systemd-cat -t shipper-e2e -p warning < "$LINES.1"
journalctl --rotate  # journald archives system.journal and starts a new one while the agent reads
systemd-cat -t shipper-e2e -p warning < "$LINES.2"
journalctl --sync 2>/dev/null || true
kill -TERM $journald
wait $journald || true
"""


def test_lines_written_with_systemd_cat_arrive_through_journald_across_a_journal_rotation(tmp_path):
    run_dir = tmp_path / "run"
    machine_id = Path("/etc/machine-id").read_text().strip()
    journal_dir = run_dir / "log" / "journal" / machine_id
    journal_dir.mkdir(parents=True)
    lines = [f"e2e line {i:04d} ünïcode" for i in range(1000)]
    (tmp_path / "lines.txt.1").write_text("".join(f"{line}\n" for line in lines[:500]))
    (tmp_path / "lines.txt.2").write_text("".join(f"{line}\n" for line in lines[500:]))
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"journal": {"type": "journald", "directory": str(journal_dir), "read_from": "beginning",
                                "identifiers": ["shipper-e2e"]}},
        "sinks": {"out": {"type": "console", "inputs": ["journal"]}},
    })
    _, write_end = blocked_pipe()
    agent = AgentProcess(cfg, stdout=write_end)
    agent.wait_until_running()

    subprocess.run(["unshare", "-m", "bash", "-c", JOURNALD_SCRIPT], check=True, timeout=60,
                   env={"RUN_DIR": str(run_dir), "LINES": str(tmp_path / "lines.txt"), "PATH": "/usr/bin:/bin"})

    wait_for(lambda: len(spooled_messages(tmp_path / "data")) >= len(lines), 20, "every line from journald")
    agent.kill()
    assert [message for _, message in spooled_messages(tmp_path / "data")] == lines
    assert len(list(journal_dir.glob("system@*.journal"))) == 1  # the rotation happened

"""An agent rolled back below the release that wrote its spool refuses to start: exit 75, one line naming
both layout versions and what to do, and the data dir exactly as it was (every file's bytes and mode);
`shipper check` says the same before anything runs."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

from shipper.buffer.layout import SPOOL_FILE, SPOOL_VERSION
from tests.agent_process import AgentProcess, output_messages, wait_for, write_config, write_lines

NEWER = SPOOL_VERSION + 1


def snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    return {path.name: (path.stat().st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
            for path in sorted(directory.iterdir())}


def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "read_from": "beginning"}},
        "sinks": {"out": {"type": "console", "inputs": ["app"], "encoding": "json"}},
    })


def run_until_stored(cfg: Path, tmp_path: Path, lines: list[str]) -> None:
    """A run of this agent that reads `lines` and stops, leaving a spool, a lock file and checkpoints."""
    output = tmp_path / "first.jsonl"
    with open(output, "wb") as stdout:
        agent = AgentProcess(cfg, stdout)
        wait_for(lambda: output_messages(output) == lines, 30, "the lines on the console")
        assert agent.terminate(timeout=20) == 0


def mark_newer(data_dir: Path) -> None:
    """What a release of the next layout version leaves: its version in the header."""
    db = sqlite3.connect(data_dir / SPOOL_FILE)
    db.execute(f"PRAGMA user_version = {NEWER}")
    db.commit()
    db.close()


def test_an_agent_refuses_a_spool_of_a_newer_layout_and_changes_nothing_in_the_data_dir(tmp_path):
    cfg = config(tmp_path)
    write_lines(tmp_path, ["before"])
    run_until_stored(cfg, tmp_path, ["before"])
    mark_newer(tmp_path / "data")
    write_lines(tmp_path, ["written while the newer agent was away"])
    untouched = snapshot(tmp_path / "data")
    output = tmp_path / "refused.jsonl"

    with open(output, "wb") as stdout:
        agent = AgentProcess(cfg, stdout)
        code = agent.wait(timeout=30)

    refusal = [line for line in agent.log().splitlines() if "layout version" in line]
    assert code == 75
    assert len(refusal) == 1 and "Traceback" not in agent.log()
    assert f"layout version {NEWER}, newer than this agent's {SPOOL_VERSION}" in refusal[0]
    assert "Run that release or a later one" in refusal[0]
    assert snapshot(tmp_path / "data") == untouched
    assert output.read_bytes() == b""


def test_check_names_the_newer_spool_before_anything_runs(tmp_path):
    cfg = config(tmp_path)
    write_lines(tmp_path, ["before"])
    run_until_stored(cfg, tmp_path, ["before"])
    mark_newer(tmp_path / "data")
    untouched = snapshot(tmp_path / "data")

    checked = subprocess.run([sys.executable, "-m", "shipper", "check", "--config", str(cfg)],
                             capture_output=True, text=True, timeout=30)

    assert checked.returncode == 2
    assert f"data_dir: the spool {tmp_path / 'data' / SPOOL_FILE} has layout version {NEWER}" in checked.stdout + \
        checked.stderr
    assert snapshot(tmp_path / "data") == untouched

"""Real `logrotate -f` under a writer, in `create` and `copytruncate` modes: every line read once, in order."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.agent_process import (
    AgentProcess,
    blocked_pipe,
    spooled_messages,
    wait_for,
    write_config,
)

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"  # installed by .ci/run

ROUNDS = 12
LINES_PER_ROUND = 500


def setup(tmp_path: Path, mode: str) -> tuple[Path, Path, Path]:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.touch()
    options = "create 0644 root root" if mode == "create" else "copytruncate"
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n  {options}\n  rotate 1\n  compress\n  missingok\n}}\n")
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(logs / "*.log")], "poll_interval": "20ms",
                            "read_block_size": "16KiB"}},
        "sinks": {"out": {"type": "console", "inputs": ["app"]}},
    })
    return log, conf, cfg


def logrotate(tmp_path: Path, conf: Path) -> None:
    subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)], check=True)


def write_round(log: Path, round_no: int) -> list[str]:
    lines = [f"round {round_no:02d} line {i:04d} " + "w" * (i % 120) for i in range(LINES_PER_ROUND)]
    with open(log, "a") as handle:  # O_APPEND, as copytruncate requires of the writer
        for start in range(0, len(lines), 50):
            handle.write("".join(f"{line}\n" for line in lines[start : start + 50]))
            handle.flush()
    return lines


def wait_until_spooled(tmp_path: Path, count: int) -> None:
    wait_for(lambda: len(spooled(tmp_path)) >= count, 30, f"{count} lines in the spool")


def wait_until_opened(tmp_path: Path, log: Path) -> None:
    """Until the agent has found the file now at `log` (its checkpoint row exists)."""
    status = log.stat()
    wait_for(lambda: f"{status.st_dev}:{status.st_ino}" in checkpoint_keys(tmp_path / "data"), 30,
             f"the agent to open {log}")


def checkpoint_keys(data_dir: Path) -> set[str]:
    path = data_dir / "spool.db"
    if not path.exists():
        return set()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return {key for (key,) in connection.execute("SELECT key FROM checkpoints")}
    except sqlite3.OperationalError:
        return set()
    finally:
        connection.close()


def start(cfg: Path, stdout: int) -> AgentProcess:
    agent = AgentProcess(cfg, stdout=stdout)
    wait_for(lambda: "tailing " in agent.log(), 20, "the agent tailing app.log")
    return agent


def restart(agent: AgentProcess, cfg: Path, stdout: int) -> AgentProcess:
    agent.kill()
    return start(cfg, stdout)


def spooled(tmp_path: Path) -> list[str]:
    return [message for _, message in spooled_messages(tmp_path / "data")]


def test_logrotate_create_mode_with_compress_loses_and_repeats_nothing(tmp_path):
    log, conf, cfg = setup(tmp_path, "create")
    _, write_end = blocked_pipe()
    agent = start(cfg, write_end)
    written: list[str] = []

    for round_no in range(ROUNDS):
        earlier = len(written)
        written += write_round(log, round_no)
        if round_no % 4 == 3:  # killed with unread lines; restarted before the next rotation
            # the file rotated (and deleted) in the last round must have been read first: once deleted,
            # its lines live only behind the killed agent's descriptor, for no reader after it
            wait_until_spooled(tmp_path, earlier)
            agent = restart(agent, cfg, write_end)
        # once the agent has the file open (lines may still be unread): a file renamed and deleted
        # before any reader opened it is gone for every reader, so the test waits for that much
        wait_until_opened(tmp_path, log)
        logrotate(tmp_path, conf)  # app.log -> app.log.1 -> app.log.1.gz at once: read by descriptor only

    wait_until_spooled(tmp_path, len(written))
    agent.kill()
    assert spooled(tmp_path) == written


def test_logrotate_copytruncate_mode_loses_and_repeats_nothing_when_the_agent_kept_up(tmp_path):
    log, conf, cfg = setup(tmp_path, "copytruncate")
    _, write_end = blocked_pipe()
    agent = start(cfg, write_end)
    written: list[str] = []

    for round_no in range(ROUNDS):
        written += write_round(log, round_no)
        # copytruncate cannot keep lines the reader has not reached: the copy has a rotated name
        wait_until_spooled(tmp_path, len(written))
        logrotate(tmp_path, conf)
        written += write_round(log, 100 + round_no)  # written at once: longer than the old offset again
        if round_no % 4 == 3:
            agent = restart(agent, cfg, write_end)

    wait_until_spooled(tmp_path, len(written))
    agent.kill()
    assert spooled(tmp_path) == written

"""Running the real agent as `shipper run` over a generated node until everything is delivered."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def delivered(data_dir: Path, log: Path) -> bool:
    """Whether the source committed the whole file and the spool holds nothing any more."""
    path = data_dir / "spool.db"
    if not path.exists():
        return False
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        offsets = [json.loads(v)["offset"] for (v,) in db.execute("SELECT value FROM checkpoints")]
        (waiting,) = db.execute("SELECT COUNT(*) FROM blocks").fetchone()
        (in_flight,) = db.execute("SELECT COUNT(*) FROM sink_state").fetchone()
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()
    return offsets == [log.stat().st_size] and waiting == 0 and in_flight == 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_agent(workdir: Path, log: Path, sinks: dict[str, Any], run: int, env: dict[str, str] | None = None
              ) -> dict[str, float]:
    """CPU (start-up apart), wall time and peak RSS of one agent run that delivers all of `log`."""
    data_dir = workdir / f"data-{run}"
    config = workdir / f"shipper-{run}.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(data_dir),
        "sources": {"pods": {"type": "kubernetes_logs", "include": [str(workdir / "containers" / "*.log")]}},
        "sinks": sinks,
    }))
    env = {**os.environ, **(env or {})}
    stderr = open(workdir / f"agent-{run}.log", "wb")  # noqa: SIM115 - closed below
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
    agent = subprocess.Popen([sys.executable, *profile, "-m", "shipper", "run", "--config", str(config)], env=env,
                             stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT)
    while b"running " not in (workdir / f"agent-{run}.log").read_bytes():
        time.sleep(0.01)
    startup_cpu = cpu_seconds(agent.pid)
    started = time.perf_counter()
    while not delivered(data_dir, log):
        time.sleep(0.05)
    wall = time.perf_counter() - started
    agent.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(agent.pid, 0)
    stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"agent exited with {status}; see {workdir}/agent-{run}.log")
    total = usage.ru_utime + usage.ru_stime
    return {"cpu": total - startup_cpu, "startup_cpu": startup_cpu, "wall": wall, "rss_mb": usage.ru_maxrss / 1024}

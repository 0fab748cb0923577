"""Running the real agent as `shipper run` over a generated node until everything is delivered."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import yaml

from bench.workload import make_node

ROOT = Path(__file__).resolve().parent.parent


def delivered(data_dir: Path, log: Path) -> bool:
    """Whether the source committed the whole file and the spool holds nothing any more."""
    return read_whole(data_dir, log) and spool_empty(data_dir)


def read_whole(data_dir: Path, log: Path) -> bool:
    """Whether the source has committed `log` to its end (its only file)."""
    offsets = _query(data_dir, "SELECT value FROM checkpoints")
    return offsets is not None and [json.loads(v)["offset"] for (v,) in offsets] == [log.stat().st_size]


def spool_empty(data_dir: Path) -> bool:
    """No record waits in the spool and no batch is in flight."""
    blocks = _query(data_dir, "SELECT COUNT(*) FROM blocks")
    in_flight = _query(data_dir, "SELECT COUNT(*) FROM sink_state")
    return blocks == [(0,)] and in_flight == [(0,)]


def _query(data_dir: Path, sql: str) -> list[tuple] | None:
    path = data_dir / "spool.db"
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_sink(lines: int, runs: int, sink_for_run: Callable[[Path, int], AbstractContextManager[dict[str, Any]]],
                 env: dict[str, str] | None = None) -> list[dict[str, float]]:
    """One result per run, each a fresh agent (and spool) sending `lines` CRI lines (~200 bytes) to
    the sink that `sink_for_run(workdir, run)` gives: a context that starts the run's endpoint and,
    when it closes, checks what arrived there and stops it."""
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        log = make_node(workdir, lines)
        results = []
        for run in range(runs):
            with sink_for_run(workdir, run) as sink:
                results.append(run_agent(workdir, {"out": sink}, run, lambda data: delivered(data, log), env))
        return results


def run_agent(workdir: Path, sinks: dict[str, Any], run: int, done: Callable[[Path], bool],
              env: dict[str, str] | None = None, sources: dict[str, Any] | None = None) -> dict[str, float]:
    """CPU (start-up apart), wall time and peak RSS of one agent run, until `done(data_dir)`.

    The default source tails the generated pods (`containers/*.log` under `workdir`).
    """
    data_dir = workdir / f"data-{run}"
    config = workdir / f"shipper-{run}.yaml"
    sources = sources or {"pods": {"type": "kubernetes_logs", "include": [str(workdir / "containers" / "*.log")]}}
    config.write_text(yaml.safe_dump({"data_dir": str(data_dir), "sources": sources, "sinks": sinks}))
    env = {**os.environ, **(env or {})}
    stderr = open(workdir / f"agent-{run}.log", "wb")  # noqa: SIM115 - closed below
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
    counts = Path(os.environ.get("BENCH_CALLGRIND") or workdir) / f"callgrind-{run}.out"
    wrapper = callgrind_command(counts) if os.environ.get("BENCH_CALLGRIND") else []
    agent = subprocess.Popen([*wrapper, sys.executable, *profile, "-m", "shipper", "run", "--config", str(config)],
                             env=env, stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT)
    while b"running " not in (workdir / f"agent-{run}.log").read_bytes():
        if agent.poll() is not None:
            raise SystemExit(f"the agent exited before running; see {workdir}/agent-{run}.log")
        time.sleep(0.01)
    if wrapper:
        subprocess.run(["callgrind_control", "--zero", str(agent.pid)], check=True, capture_output=True)
    startup_cpu = cpu_seconds(agent.pid)
    sampler = sample(agent.pid)
    started = time.perf_counter()
    while not done(data_dir):
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if sampler is not None:
        sampler.send_signal(signal.SIGINT)
        sampler.wait()
    agent.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(agent.pid, 0)
    stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"agent exited with {status}; see {workdir}/agent-{run}.log")
    total = usage.ru_utime + usage.ru_stime
    result = {"cpu": total - startup_cpu, "startup_cpu": startup_cpu, "system_cpu": usage.ru_stime, "wall": wall,
              "rss_mb": usage.ru_maxrss / 1024}
    if wrapper:
        result["instructions"] = callgrind_total(counts)
    return result


def callgrind_command(counts: Path) -> list[str]:
    """With BENCH_CALLGRIND=<directory> the agent runs under valgrind's callgrind, which counts the
    instructions it executes after start-up (zeroed once it runs) into <directory>/callgrind-<run>.out
    (`callgrind_annotate` reads them). Those counts repeat to a fraction of a percent run for
    run whatever else the machine does, where this VM's CPU seconds drift by half: compare versions by
    them (user-space instructions only: the kernel's work is not in them; the agent runs ~50x slower)."""
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={counts}", "--dump-instr=no"]


def callgrind_total(counts: Path) -> float:
    """The instructions counted after the zeroing (the last dump's totals)."""
    totals = [line.split()[1] for line in counts.read_text().splitlines() if line.startswith(("totals:", "summary:"))]
    return float(totals[-1])


def sample(pid: int) -> subprocess.Popen | None:
    """With BENCH_PYSPY=<file>: py-spy samples the running agent (start-up apart) into <file> (folded
    stacks) until the run is delivered. BENCH_PYSPY_ARGS replaces the default `--native --rate 200`
    (native frames count a thread waiting in C as busy: leave them out to see where an idle agent works)."""
    path = os.environ.get("BENCH_PYSPY")
    if not path:
        return None
    options = os.environ.get("BENCH_PYSPY_ARGS", "--native --rate 200").split()
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), *options,
                             "--format", "raw", "--output", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

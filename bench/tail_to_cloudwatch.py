"""Benchmark: the real agent tails N CRI lines (~200 bytes) and delivers them to CloudWatch Logs.

    .venv/bin/python bench/tail_to_cloudwatch.py [--lines 1000000] [--runs 3] [--endpoint fake|localstack|URL]

`fake` (default) is peers/fake_cloudwatch.py, which enforces every PutLogEvents limit and is fast;
BENCH_PROFILE=FILE writes a cProfile of the agent to FILE.
`localstack` starts LocalStack (it absorbs about 60-90k events/s here, so it bounds the rate).
The agent runs as `shipper run` in a child process; its CPU time and peak RSS come from the kernel
(wait4) when it exits after delivering everything; start-up CPU (imports) is reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workload import make_node, summarize  # noqa: E402
from peers.fake_cloudwatch import FakeCloudWatch  # noqa: E402


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


def one_run(workdir: Path, log: Path, endpoint: str, run: int) -> dict[str, float]:
    data_dir = workdir / f"data-{run}"
    config = workdir / f"shipper-{run}.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(data_dir),
        "sources": {"pods": {"type": "kubernetes_logs", "include": [str(workdir / "containers" / "*.log")]}},
        "sinks": {"cw": {"type": "cloudwatch_logs", "inputs": ["pods"], "region": "us-east-1", "endpoint": endpoint,
                         "group_name": f"/bench/run-{run}-{time.time_ns()}/{{kubernetes.namespace}}",
                         "stream_name": "{kubernetes.pod_name}", "create_missing_group": True}},
    }))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--endpoint", default="fake", help="fake, localstack, or a URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        log = make_node(workdir, args.lines)
        stop = lambda: None  # noqa: E731
        if args.endpoint == "fake":
            fake = FakeCloudWatch(store=False).start()
            endpoint, stop = fake.url, fake.stop
        elif args.endpoint == "localstack":
            state = workdir / "localstack"
            endpoint = subprocess.run(["bash", str(ROOT / "localstack" / "start.sh"), str(state)], check=True,
                                      capture_output=True, text=True).stdout.strip()
            stop = lambda: subprocess.run(["bash", str(ROOT / "localstack" / "stop.sh"), str(state)])  # noqa: E731
        else:
            endpoint = args.endpoint
        try:
            print(f"{args.lines} CRI lines of {log.stat().st_size / args.lines:.0f} bytes to {args.endpoint}, "
                  f"{args.runs} runs")
            results = [one_run(workdir, log, endpoint, run) for run in range(args.runs)]
        finally:
            stop()
    print("\n".join(summarize(args.lines, results)))
    startup = sorted(r["startup_cpu"] for r in results)
    print(f"{'start-up CPU-seconds (apart)':32} median {startup[len(startup) // 2]:12,.2f}")


if __name__ == "__main__":
    main()

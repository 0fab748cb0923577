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
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agent_run import measure_sink  # noqa: E402
from bench.workload import summarize  # noqa: E402
from peers.fake_cloudwatch import FakeCloudWatch  # noqa: E402


def measure(lines: int, runs: int, endpoint: str = "fake") -> list[dict[str, float]]:
    """One result per run (fresh agent, fresh spool, a group of its own) delivering `lines` CRI lines to
    `endpoint`: `fake` (a strict in-process CloudWatch), `localstack`, or a URL."""
    with tempfile.TemporaryDirectory(prefix="shipper-bench-endpoint-") as tmp:
        stop = lambda: None  # noqa: E731
        if endpoint == "fake":
            fake = FakeCloudWatch(store=False).start()
            url, stop = fake.url, fake.stop
        elif endpoint == "localstack":
            state = Path(tmp) / "localstack"
            url = subprocess.run(["bash", str(ROOT / "localstack" / "start.sh"), str(state)], check=True,
                                 capture_output=True, text=True).stdout.strip()
            stop = lambda: subprocess.run(["bash", str(ROOT / "localstack" / "stop.sh"), str(state)])  # noqa: E731
        else:
            url = endpoint

        @contextmanager
        def cloudwatch_sink(workdir: Path, run: int) -> Iterator[dict[str, Any]]:
            yield {"type": "cloudwatch_logs", "inputs": ["pods"], "region": "us-east-1", "endpoint": url,
                   "group_name": f"/bench/run-{run}-{time.time_ns()}/{{kubernetes.namespace}}",
                   "stream_name": "{kubernetes.pod_name}", "create_missing_group": True}

        try:
            return measure_sink(lines, runs, cloudwatch_sink, env={"AWS_ACCESS_KEY_ID": "bench",
                                                                  "AWS_SECRET_ACCESS_KEY": "bench"})
        finally:
            stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--endpoint", default="fake", help="fake, localstack, or a URL")
    args = parser.parse_args()
    print(f"{args.lines} CRI lines of 217 bytes to {args.endpoint}, {args.runs} runs")
    results = measure(args.lines, args.runs, args.endpoint)
    print("\n".join(summarize(args.lines, results)))


if __name__ == "__main__":
    main()

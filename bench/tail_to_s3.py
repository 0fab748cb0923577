"""Benchmark: the real agent tails N CRI lines (~200 bytes) and writes them to S3 as objects.

    .venv/bin/python bench/tail_to_s3.py [--lines 1000000] [--runs 3] [--encoding ndjson|text]
        [--compression gzip|none] [--compression-level 1-9]

The endpoint is peers/fake_s3.py (in this process: its CPU is not the agent's), which keeps S3's
rules on multipart uploads and stores nothing. The sink's defaults otherwise (64 MiB objects, gzip,
ndjson): objects above 16 MiB go as multipart uploads. Prints lines per second, CPU-seconds per
million lines (the agent's alone, start-up apart) and peak RSS.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agent_run import measure_sink  # noqa: E402
from bench.workload import summarize  # noqa: E402
from peers.fake_s3 import FakeS3  # noqa: E402


def measure(lines: int, runs: int, encoding: str = "ndjson", compression: str = "gzip",
            level: int = 6) -> list[dict[str, float]]:
    """One result per run: a fresh agent and a fresh endpoint receiving `lines` CRI lines."""

    @contextmanager
    def s3_sink(workdir: Path, run: int) -> Iterator[dict[str, Any]]:
        endpoint = FakeS3().start()
        try:
            yield {"type": "s3", "inputs": ["pods"], "endpoint": endpoint.url, "region": "us-east-1",
                   "bucket": "bench", "encoding": encoding, "compression": compression, "compression_level": level,
                   "max_object_age": "1s"}
            assert endpoint.lines >= lines, f"S3 received {endpoint.lines} of {lines} lines"
            assert endpoint.refused == 0, "a call broke a rule of S3's"
        finally:
            endpoint.stop()

    return measure_sink(lines, runs, s3_sink, env={"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--encoding", default="ndjson", choices=["ndjson", "text"])
    parser.add_argument("--compression", default="gzip", choices=["gzip", "none"])
    parser.add_argument("--compression-level", type=int, default=6, choices=range(1, 10))
    args = parser.parse_args()
    print(f"{args.lines} CRI lines of 217 bytes to S3 ({args.encoding}, {args.compression} "
          f"level {args.compression_level}), {args.runs} runs")
    print("\n".join(summarize(args.lines, measure(args.lines, args.runs, args.encoding, args.compression,
                                                  args.compression_level))))


if __name__ == "__main__":
    main()

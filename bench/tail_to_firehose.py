"""Benchmark: the real agent tails N CRI lines (~200 bytes) and sends them to Firehose.

    .venv/bin/python bench/tail_to_firehose.py [--lines 1000000] [--runs 3] [--pack]
        [--encoding json|text] [--compression none|gzip]

The endpoint is peers/fake_firehose.py (in this process: its CPU is not the agent's), which keeps
PutRecordBatch's limits and takes every record. JSON lines, one per record (the sink's defaults), or
packed with `--pack` (gzip too, unless `--compression none`); `--encoding text` sends the bare
message, as CloudWatch does. Prints lines per second, CPU-seconds per million lines (the agent's
alone, start-up apart) and peak RSS.
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
from peers.fake_firehose import FakeFirehose  # noqa: E402


def measure(lines: int, runs: int, pack: bool = False, encoding: str = "json",
            compression: str | None = None) -> list[dict[str, float]]:
    """One result per run: a fresh agent and a fresh endpoint receiving `lines` CRI lines."""

    @contextmanager
    def firehose_sink(workdir: Path, run: int) -> Iterator[dict[str, Any]]:
        endpoint = FakeFirehose().start()
        try:
            yield {"type": "firehose", "inputs": ["pods"], "endpoint": endpoint.url, "region": "us-east-1",
                   "delivery_stream": "bench", "encoding": encoding, "pack": pack,
                   "compression": compression or ("gzip" if pack else "none")}
            assert endpoint.lines >= lines, f"Firehose received {endpoint.lines} of {lines} lines"
            assert endpoint.refused == 0, "a call broke a limit of PutRecordBatch"
        finally:
            endpoint.stop()

    return measure_sink(lines, runs, firehose_sink,
                        env={"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pack", action="store_true")
    parser.add_argument("--encoding", default="json", choices=["json", "text"])
    parser.add_argument("--compression", choices=["none", "gzip"], help="default: gzip when packed")
    args = parser.parse_args()
    compression = args.compression or ("gzip" if args.pack else "none")
    print(f"{args.lines} CRI lines of 217 bytes to Firehose ({'packed' if args.pack else 'a record each'}, "
          f"{args.encoding}, {compression}), {args.runs} runs")
    print("\n".join(summarize(args.lines, measure(args.lines, args.runs, args.pack, args.encoding, compression))))


if __name__ == "__main__":
    main()

"""Benchmark: the real agent tails N CRI lines (~200 bytes) and sends them to an OTLP/HTTP receiver.

    .venv/bin/python bench/tail_to_otlp.py [--lines 1000000] [--runs 3] [--encoding protobuf|json]
        [--compression none|gzip]

The receiver (aiohttp, on loopback, in this process: its CPU is not the agent's) parses every request
with opentelemetry-proto, answers 200 and counts records. Batches of 1,000 records, 4 requests in
flight (the sink's defaults). Prints lines per second, CPU-seconds per million lines (the agent's
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
from peers.otlp_receiver import OtlpReceiver  # noqa: E402


def measure(lines: int, runs: int, encoding: str = "protobuf", compression: str = "none") -> list[dict[str, float]]:
    """One result per run: a fresh agent and a fresh receiver taking `lines` CRI lines."""

    @contextmanager
    def receiver_sink(workdir: Path, run: int) -> Iterator[dict[str, Any]]:
        receiver = OtlpReceiver(keep_requests=False).start()
        try:
            yield {"type": "opentelemetry", "inputs": ["pods"], "endpoint": receiver.url, "encoding": encoding,
                   "compression": compression}
            assert receiver.count >= lines, f"the receiver took {receiver.count} of {lines} lines"
        finally:
            receiver.stop()

    return measure_sink(lines, runs, receiver_sink)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--encoding", default="protobuf", choices=["protobuf", "json"])
    parser.add_argument("--compression", default="none", choices=["none", "gzip"])
    args = parser.parse_args()
    print(f"{args.lines} CRI lines of 217 bytes to an OTLP/HTTP receiver ({args.encoding}, {args.compression}), "
          f"{args.runs} runs")
    print("\n".join(summarize(args.lines, measure(args.lines, args.runs, args.encoding, args.compression))))


if __name__ == "__main__":
    main()

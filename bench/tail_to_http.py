"""Benchmark: the real agent tails N CRI lines (~200 bytes) and POSTs them to an HTTP collector.

    .venv/bin/python bench/tail_to_http.py [--lines 1000000] [--runs 3] [--compression none|gzip]
        [--encoding ndjson|json_array|text]

The collector (aiohttp, on loopback, in this process: its CPU is not the agent's) answers 200 and
counts lines. ndjson (or `--encoding`), batches of 1,000 records, 4 requests in flight (the sink's defaults). Prints
lines per second, CPU-seconds per million lines (the agent's alone, start-up apart) and peak RSS.
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
from peers.http_collector import HttpCollector  # noqa: E402


def measure(lines: int, runs: int, compression: str = "none", encoding: str = "ndjson") -> list[dict[str, float]]:
    """One result per run: a fresh agent and a fresh collector receiving `lines` CRI lines."""

    @contextmanager
    def collector_sink(workdir: Path, run: int) -> Iterator[dict[str, Any]]:
        collector = HttpCollector(keep_bodies=False).start()
        try:
            yield {"type": "http", "inputs": ["pods"], "uri": f"{collector.url}/ingest", "compression": compression,
                   "encoding": encoding}
            assert collector.lines >= lines, f"the collector received {collector.lines} of {lines} lines"
        finally:
            collector.stop()

    return measure_sink(lines, runs, collector_sink)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compression", default="none", choices=["none", "gzip"])
    parser.add_argument("--encoding", default="ndjson", choices=["ndjson", "json_array", "text"])
    args = parser.parse_args()
    print(f"{args.lines} CRI lines of 217 bytes to an HTTP collector ({args.encoding}, {args.compression}), "
          f"{args.runs} runs")
    print("\n".join(summarize(args.lines, measure(args.lines, args.runs, args.compression, args.encoding))))


if __name__ == "__main__":
    main()

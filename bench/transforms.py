"""Benchmark: what each transform adds to tail -> spool, interleaved with the run without it.

    .venv/bin/python bench/transforms.py [--lines 1000000] [--runs 3] [--only parse_json]

For each transform, runs alternate: the same CRI workload (content fitting the transform: JSON
objects for `parse json`, logfmt pairs for `parse logfmt`, nginx lines for `nginx_combined`) without
a transform, then with it, each in a fresh process. Prints CPU-seconds per million lines of both and
the difference, run for run (this VM's absolute figures drift between hours; the difference of
neighbouring runs does not).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import tail_to_spool  # noqa: E402

SCENARIOS: dict[str, tuple[str, dict[str, Any], str]] = {  # name -> (content, transform, target)
    "parse_json": ("json", {"type": "parse", "format": "json"}, "<= 0.6"),
    "parse_nginx_combined": ("nginx", {"type": "parse", "format": "nginx_combined"}, "<= 1.0"),
    "parse_logfmt": ("logfmt", {"type": "parse", "format": "logfmt"}, ""),
    "filter_one_field": ("plain", {"type": "filter", "exclude": {"field": "message", "regex": "healthz"}}, "<= 0.2"),
    "redact_builtins": ("plain", {"type": "redact"}, "<= 0.8"),
}


def added_cost(name: str, lines: int, runs: int) -> list[tuple[float, float]]:
    """(CPU-s per million lines without, with) per run, interleaved."""
    content, transform, _ = SCENARIOS[name]
    pairs = []
    for _ in range(runs):
        (without,), _ = tail_to_spool.measure(lines, 1, content=content)
        (with_it,), _ = tail_to_spool.measure(lines, 1, content=content, transform=transform)
        pairs.append((without["cpu"] * 1e6 / lines, with_it["cpu"] * 1e6 / lines))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=list(SCENARIOS), action="append")
    args = parser.parse_args()
    print(f"{args.lines:,} CRI lines, {args.runs} interleaved pairs per transform; CPU-s per million lines")
    for name in args.only or SCENARIOS:
        pairs = added_cost(name, args.lines, args.runs)
        added = [with_it - without for without, with_it in pairs]
        print(f"{name:24} without {statistics.median(p[0] for p in pairs):5.2f}  with "
              f"{statistics.median(p[1] for p in pairs):5.2f}  added median {statistics.median(added):5.2f} "
              f"(min {min(added):.2f}, max {max(added):.2f})  target {SCENARIOS[name][2]}", flush=True)


if __name__ == "__main__":
    main()

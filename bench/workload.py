"""The benchmark workload: one kubelet-style pod directory with N CRI lines of about 200 bytes."""

from __future__ import annotations

import os
from pathlib import Path


def generate(path: Path, lines: int) -> None:
    body = "x" * 150
    with open(path, "w") as f:
        for i in range(lines):
            stamp = f"2026-11-22T10:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}456789Z"
            f.write(f"{stamp} stdout F request {i:09d} handled {body}\n")


def make_node(workdir: Path, lines: int) -> Path:
    """`pods/<ns>_<pod>_<uid>/app/0.log` with its `containers/` link; returns the log file."""
    pod = workdir / "pods" / "bench_gen-1_00000000-0000-0000-0000-000000000001" / "app"
    pod.mkdir(parents=True)
    generate(pod / "0.log", lines)
    (workdir / "containers").mkdir()
    os.symlink(pod / "0.log", workdir / "containers" / f"gen-1_bench_app-{'b' * 64}.log")
    return pod / "0.log"


def summarize(lines: int, results: list[dict[str, float]]) -> list[str]:
    """Median (min, max) rows of CPU-seconds per million lines, lines per second and peak RSS."""
    import statistics

    per_million = [r["cpu"] * 1e6 / lines for r in results]
    rate = [lines / r["wall"] for r in results]
    rss = [r["rss_mb"] for r in results]
    rows = []
    for name, values, unit in (("CPU-seconds per million lines", per_million, ""),
                               ("lines per second (wall)", rate, ""), ("peak RSS", rss, " MB")):
        rows.append(f"{name:32} median {statistics.median(values):12,.2f}{unit}  "
                    f"(min {min(values):,.2f}, max {max(values):,.2f})")
    return rows

"""Every benchmark, one command: figures to bench/results.md and a plot to bench/results.png.

    .venv/bin/pip install -e '.[bench]'      # matplotlib
    .venv/bin/python bench/run_all.py [--quick] [--runs 3] [--kernels-only]

Throughput scenarios report CPU-seconds per million lines (the agent's own CPU from the kernel,
start-up apart), lines per second and peak RSS: median (min-max) over `--runs` fresh processes.
`--quick` uses smaller workloads to check that everything runs (its figures are not the ones to quote).
The paths a compiled kernel serves are measured again on the Python reference (SHIPPER_PURE_PYTHON=1),
run for run with the compiled path, into the section KERNELS_HEADING of results.md; `--kernels-only`
runs just those and replaces that section of the results.md there is.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import (  # noqa: E402
    forward_to_spool,
    journald_to_spool,
    scenarios,
    tail_to_cloudwatch,
    tail_to_firehose,
    tail_to_google_cloud_logging,
    tail_to_http,
    tail_to_otlp,
    tail_to_s3,
    tail_to_spool,
    tail_to_syslog,
)
from bench.workload import figures, messages  # noqa: E402

TARGETS = {"tail -> spool": "<= 1.5 CPU-s", "tail -> CloudWatch (LocalStack)": "<= 2.5 CPU-s, <= 150 MB",
           "tail -> CloudWatch (fast endpoint)": "<= 2.0 CPU-s", "tail -> syslog TLS (rsyslog)": "<= 2.0 CPU-s",
           "journald -> spool (kubelet-like entries, ~20 fields)": "<= 5 CPU-s",
           "forward -> spool (PackedForward, acks)": "<= 1.5x tail -> spool",
           "tail -> HTTP collector (ndjson)": "<= tail -> CloudWatch (fast endpoint)",
           "tail -> OTLP/HTTP receiver (protobuf)": "<= tail -> CloudWatch (fast endpoint)",
           "tail -> S3 (fast endpoint, text, gzip)": "<= tail -> CloudWatch (fast endpoint)",
           "tail -> Firehose (fast endpoint, a record each)": "<= tail -> CloudWatch (fast endpoint)"}


KERNELS_HEADING = "## Compiled kernels against their Python reference"
KernelRow = tuple[str, str, int, list[dict], list[dict]]  # path, kernels, lines, reference runs, compiled runs


def kernel_rows(lines: int, runs: int) -> list[KernelRow]:
    """Each path a kernel serves, on the Python reference and compiled, one run of each in turn."""
    entries = lines // 5
    paths = [("tail -> spool", "cri", lines, lambda: tail_to_spool.measure(lines, 1)[0]),
             ("tail -> CloudWatch (fast endpoint)", "cri, cloudwatch", lines,
              lambda: tail_to_cloudwatch.measure(lines, 1)),
             ("tail -> syslog TLS (rsyslog)", "cri, syslog", lines, lambda: tail_to_syslog.measure(lines, 1)),
             ("journald -> spool (kubelet-like entries, ~20 fields)", "journal", entries,
              lambda: journald_to_spool.measure(entries, 1)[0]),
             ("forward -> spool (PackedForward, acks)", "forward", lines, lambda: forward_to_spool.measure(lines, 1)),
             ("forward -> spool (a record a message, as Docker's driver)", "forward", lines,
              lambda: forward_to_spool.measure(lines, 1, "message")),
             ("tail -> HTTP collector (ndjson)", "cri, ndjson", lines, lambda: tail_to_http.measure(lines, 1)),
             ("tail -> OTLP/HTTP receiver (protobuf)", "cri, otlp", lines, lambda: tail_to_otlp.measure(lines, 1)),
             ("tail -> Firehose (fast endpoint, packed, json, no compression)", "cri, ndjson", lines,
              lambda: tail_to_firehose.measure(lines, 1, pack=True, compression="none"))]
    rows = []
    for name, kernels, count, measure in paths:
        print(f"{name}: Python reference and compiled, {runs} runs each ...", flush=True)
        reference: list[dict] = []
        compiled: list[dict] = []
        for _ in range(runs):
            reference += on_python_reference(measure)
            compiled += measure()
        rows.append((name, kernels, count, reference, compiled))
    return rows


def on_python_reference(measure: Callable[[], list[dict]]) -> list[dict]:
    """`measure` with SHIPPER_PURE_PYTHON=1, which the agents it starts inherit."""
    before = os.environ.get("SHIPPER_PURE_PYTHON")
    os.environ["SHIPPER_PURE_PYTHON"] = "1"
    try:
        return measure()
    finally:
        if before is None:
            del os.environ["SHIPPER_PURE_PYTHON"]
        else:
            os.environ["SHIPPER_PURE_PYTHON"] = before


def render_kernels(rows: list[KernelRow]) -> str:
    out = [KERNELS_HEADING, "",
           "CPU-s per million lines, median (min-max), the two paths run in turn (callgrind's instructions a "
           "line: BENCH_CALLGRIND, README).", "",
           "| path | kernels | lines | Python reference | compiled | compiled / reference |",
           "|---|---|---|---|---|---|"]
    for name, kernels, count, reference, compiled in rows:
        (_, before, _), (_, after, _) = figures(count, reference)[0], figures(count, compiled)[0]
        out.append(f"| {name} | {kernels} | {count:,} | {_cell(before, '.2f')} | {_cell(after, '.2f')} | "
                   f"{statistics.median(after) / statistics.median(before):.2f} |")
    return "\n".join(out) + "\n"


def _cell(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kernels-only", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args()
    lines = 100_000 if args.quick else 1_000_000
    runs = 1 if args.quick else args.runs
    if args.kernels_only:
        results = args.out / "results.md"
        kept = results.read_text().split(KERNELS_HEADING)[0].rstrip("\n") if results.exists() else ""
        section = render_kernels(kernel_rows(lines, runs))
        results.write_text(f"{kept}\n\n{section}" if kept else section)
        print(section)
        return
    rows: list[tuple[str, int, list[dict]]] = []

    def throughput(name: str, count: int, measure) -> None:
        print(f"{name}: {count:,} lines x {runs} runs ...", flush=True)
        rows.append((name, count, measure()))

    throughput("tail -> spool", lines, lambda: tail_to_spool.measure(lines, runs)[0])
    throughput("tail -> spool, Kubernetes API enrichment on", lines,
               lambda: tail_to_spool.measure(lines, runs, api=True)[0])
    mixed = {"fmt": "docker", "lengths": "lognormal", "multiline_fraction": 0.05}
    records = sum(1 for _ in messages(lines, mixed["lengths"], mixed["multiline_fraction"]))  # traces add lines
    throughput("tail -> spool (docker, log-normal lengths, 5% traces)", records,
               lambda: tail_to_spool.measure(lines, runs, **mixed)[0])
    throughput("tail -> CloudWatch (fast endpoint)", lines, lambda: tail_to_cloudwatch.measure(lines, runs))
    throughput("tail -> CloudWatch (LocalStack)", lines, lambda: tail_to_cloudwatch.measure(lines, runs, "localstack"))
    throughput("tail -> syslog TLS (rsyslog)", lines, lambda: tail_to_syslog.measure(lines, runs))
    throughput("tail -> HTTP collector (ndjson)", lines, lambda: tail_to_http.measure(lines, runs))
    throughput("tail -> HTTP collector (text, as CloudWatch sends)", lines,
               lambda: tail_to_http.measure(lines, runs, encoding="text"))
    throughput("tail -> OTLP/HTTP receiver (protobuf)", lines, lambda: tail_to_otlp.measure(lines, runs))
    throughput("tail -> OTLP/HTTP receiver (json, gzip)", lines,
               lambda: tail_to_otlp.measure(lines, runs, encoding="json", compression="gzip"))
    throughput("tail -> S3 (fast endpoint, ndjson, gzip)", lines, lambda: tail_to_s3.measure(lines, runs))
    throughput("tail -> S3 (fast endpoint, text, gzip)", lines,
               lambda: tail_to_s3.measure(lines, runs, encoding="text"))
    throughput("tail -> Google Cloud Logging (stand-in, jsonPayload)", lines,
               lambda: tail_to_google_cloud_logging.measure(lines, runs))
    throughput("tail -> Google Cloud Logging (stand-in, textPayload)", lines,
               lambda: tail_to_google_cloud_logging.measure(lines, runs, payload="text"))
    throughput("tail -> Firehose (fast endpoint, a record each)", lines, lambda: tail_to_firehose.measure(lines, runs))
    throughput("tail -> Firehose (fast endpoint, packed, gzip)", lines,
               lambda: tail_to_firehose.measure(lines, runs, pack=True))
    throughput("tail -> Firehose (fast endpoint, packed, text, no compression)", lines,
               lambda: tail_to_firehose.measure(lines, runs, pack=True, encoding="text", compression="none"))
    throughput("forward -> spool (PackedForward, acks)", lines, lambda: forward_to_spool.measure(lines, runs))
    throughput("forward -> spool (one record a message, as Docker's driver)", lines,
               lambda: forward_to_spool.measure(lines, runs, "message"))
    entries = lines // 5
    throughput("journald -> CloudWatch (fast endpoint)", entries,
               lambda: scenarios.journald_to_cloudwatch(entries, runs))
    throughput("journald -> spool (kubelet-like entries, ~20 fields)", entries,
               lambda: journald_to_spool.measure(entries, runs)[0])
    seconds = 15 if args.quick else 60
    print(f"latency at 5,000 lines/s for {seconds} s ...", flush=True)
    latency = scenarios.latency(5000, seconds)
    print("SIGTERM drain of 100,000 records ...", flush=True)
    drain = [scenarios.sigterm_drain(100_000) for _ in range(runs)]
    print(f"idle: 300, then 10,000 quiet files for {seconds} s ...", flush=True)
    idle = [scenarios.idle(300, seconds), scenarios.idle(10_000, seconds)]

    kernels = kernel_rows(lines, runs)

    args.out.mkdir(parents=True, exist_ok=True)
    report = render(rows, latency, drain, idle, args.quick) + "\n" + render_kernels(kernels)
    (args.out / "results.md").write_text(report)
    plot(rows, latency, args.out / "results.png")
    print(report)


def render(rows: list[tuple[str, int, list[dict]]], latency: dict, drain: list[dict], idle: list[dict],
           quick: bool) -> str:
    cell = _cell

    out = [f"# Benchmark results ({time.strftime('%Y-%m-%d')}{', quick run' if quick else ''})", "",
           f"Machine: {machine()}.", "",
           "| scenario | lines | CPU-s per million lines | lines/s | peak RSS MB | target |",
           "|---|---|---|---|---|---|"]
    for name, count, results in rows:
        (_, cpu, _), (_, rate, _), (_, rss, _) = figures(count, results)
        out.append(f"| {name} | {count:,} | {cell(cpu, '.2f')} | {cell(rate, ',.0f')} | {cell(rss, '.0f')} | "
                   f"{TARGETS.get(name, '')} |")
    out += ["", f"Delivery latency at 5,000 lines/s (tail -> fast CloudWatch endpoint, kubelet rotation every "
            f"50,000 lines): p50 {latency['p50']:.2f} s, p99 {latency['p99']:.2f} s, max {latency['max']:.2f} s "
            f"over {latency['delivered']:,} of {latency['lines']:,} lines (target p99 <= 2 s).", ""]
    times = [d["seconds"] for d in drain]
    out.append(f"SIGTERM with 100,000 records queued: drained and exited in {cell(times, '.2f')} s "
               f"(exit codes {sorted({d['exit_code'] for d in drain})}, left in spool "
               f"{max(d['left_in_spool'] for d in drain)}; target well inside 20 s).")
    few, many = idle
    per_file = (many["rss_mb"] - few["rss_mb"]) * 2**20 / (many["files"] - few["files"])
    out += [""] + [f"Idle: {run['files']:,} quiet container logs for {run['seconds']:g} s cost "
                   f"{run['core_percent']:.2f}% of a core and {run['rss_mb']:.0f} MB RSS (target 0.5%, 80 MB "
                   f"with 300)." for run in idle]
    out += [f"Memory per tracked file: about {per_file / 1024:.1f} KiB (the difference between the two, per file)."]
    return "\n".join(out) + "\n"


def machine() -> str:
    """What produced the figures: CPU model, cores, memory, OS and Python."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor() or "unknown CPU")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} x {model}, {memory:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def plot(rows: list[tuple[str, int, list[dict]]], latency: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5))
    names = [name for name, _, _ in rows]
    rates = [statistics.median(figures(count, results)[1][1]) for _, count, results in rows]
    cpus = [statistics.median(figures(count, results)[0][1]) for _, count, results in rows]
    bars = left.barh(names, rates, color="#4c72b0")
    for bar, cpu in zip(bars, cpus, strict=True):
        left.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {cpu:.2f} CPU-s/M", va="center")
    left.set_xlabel("lines per second (median)")
    left.set_title("Throughput (label: CPU-seconds per million lines)")
    left.invert_yaxis()
    samples = latency["samples"]
    right.hist(samples, bins=60, color="#55a868")
    for q, style in (("p50", "--"), ("p99", ":")):
        right.axvline(latency[q], color="black", linestyle=style, label=f"{q} {latency[q]:.2f} s")
    right.set_xlabel("seconds from write to CloudWatch acceptance")
    right.set_title("Delivery latency at 5,000 lines/s")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

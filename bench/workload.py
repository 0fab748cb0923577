"""Benchmark workloads: kubelet-style pod directories with CRI or docker json-file lines.

`generate` writes a finished file (throughput benchmarks); `LiveWriter` writes at a steady rate with
kubelet-style rotation (latency benchmark). Line lengths are ~200 bytes by default, or drawn from a
log-normal distribution; a fraction of records can be multi-line stack traces.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from pathlib import Path

import orjson

TRACE = ["java.lang.IllegalStateException: request failed", "\tat com.example.Service.handle(Service.java:42)",
         "\tat com.example.Router.route(Router.java:118)", "\tat com.example.Main.main(Main.java:7)"]


def cri_time(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def messages(count: int, lengths: str = "fixed", multiline_fraction: float = 0.0, seed: int = 1,
             content: str = "plain"):
    """Log lines: `fixed` (217-byte CRI lines), or `lognormal` lengths (median ~120, long tail to 8 KiB); after a
    fraction of them, a Java stack trace whose lines do not start with a date. `content`: `plain` text,
    `json` objects, `logfmt` pairs or `nginx` access lines of about the same size (for the transform benchmarks)."""
    rng = random.Random(seed)
    for i in range(count):
        size = 126 if lengths == "fixed" else min(8192, max(10, int(rng.lognormvariate(4.8, 0.9))))
        if content == "json":
            yield (f'{{"time":"2026-11-22T10:15:00.{i % 1000:03d}Z","level":"info","msg":"request {i:09d} handled",'
                   f'"path":"/api/items","status":200,"took_ms":{i % 97},"pad":"' + "x" * (size - 100) + '"}')
        elif content == "logfmt":
            yield (f'time=2026-11-22T10:15:00.{i % 1000:03d}Z level=info msg="request {i:09d} handled" '
                   f'path=/api/items status=200 took_ms={i % 97} pad=' + "x" * (size - 106))
        elif content == "nginx":
            yield (f'10.0.{i % 256}.{i % 200} - - [22/Nov/2026:10:15:00 +0000] "GET /api/items/{i:09d} HTTP/1.1" '
                   f'200 {i % 9000} "-" "Mozilla/5.0 (X11; Linux x86_64) bench/' + "x" * (size - 110) + '"')
        else:
            yield f"2026-11-22 10:15:00 INFO request {i:09d} handled " + "x" * size
        if multiline_fraction and rng.random() < multiline_fraction:
            yield from TRACE


def format_line(fmt: str, stamp_ns: int, text: str) -> str:
    if fmt == "docker":
        return orjson.dumps({"log": text + "\n", "stream": "stdout", "time": cri_time(stamp_ns)}).decode() + "\n"
    return f"{cri_time(stamp_ns)} stdout F {text}\n"


def generate(path: Path, lines: int, fmt: str = "cri", lengths: str = "fixed", multiline_fraction: float = 0.0,
             seed: int = 1, content: str = "plain") -> int:
    """Write the file; returns the number of records it holds (stack trace lines each count)."""
    start = time.time_ns() - 3600 * 10**9  # an hour ago: inside CloudWatch's accepted window
    written = 0
    with open(path, "w") as f:
        for i, text in enumerate(messages(lines, lengths, multiline_fraction, seed, content)):
            f.write(format_line(fmt, start + i * 1000, text))
            written += 1
    return written


def make_pod(workdir: Path, name: str = "gen-1") -> Path:
    """`pods/<ns>_<pod>_<uid>/app/` with its `containers/` link to `0.log`; returns the directory."""
    pod = workdir / "pods" / f"bench_{name}_00000000-0000-0000-0000-000000000001" / "app"
    pod.mkdir(parents=True)
    (pod / "0.log").touch()
    (workdir / "containers").mkdir(exist_ok=True)
    os.symlink(pod / "0.log", workdir / "containers" / f"{name}_bench_app-{'b' * 64}.log")
    return pod


def make_node(workdir: Path, lines: int, **workload) -> Path:
    """One pod whose `0.log` holds `lines` records; returns the log file."""
    pod = make_pod(workdir)
    generate(pod / "0.log", lines, **workload)
    return pod / "0.log"


class LiveWriter(threading.Thread):
    """Writes CRI lines stamped with the current time at `rate` lines/s for `seconds`, rotating like
    kubelet (rename to 0.log.<timestamp>, new 0.log) every `rotate_every` lines."""

    def __init__(self, pod: Path, rate: int, seconds: float, rotate_every: int = 50_000):
        super().__init__(daemon=True)
        self.pod, self.rate, self.seconds, self.rotate_every = pod, rate, seconds, rotate_every
        self.written = 0

    def run(self) -> None:
        log = self.pod / "0.log"
        handle = open(log, "a")  # noqa: SIM115 - kept open across rotations, like a container runtime
        start = time.monotonic()
        tick = 0.01
        while (elapsed := time.monotonic() - start) < self.seconds:
            due = int(elapsed * self.rate) - self.written
            for _ in range(max(0, due)):
                handle.write(format_line("cri", time.time_ns(), f"live line {self.written:09d} " + "y" * 150))
                self.written += 1
                if self.written % self.rotate_every == 0:
                    handle.close()
                    log.rename(self.pod / f"0.log.{time.strftime('%Y%m%d-%H%M%S')}-{self.written}")
                    handle = open(log, "a")  # noqa: SIM115
            handle.flush()
            time.sleep(tick)
        handle.close()


def summarize(lines: int, results: list[dict[str, float]]) -> list[str]:
    """Median (min, max) rows of CPU-seconds per million lines, lines per second and peak RSS."""
    rows = []
    for name, values, unit in figures(lines, results):
        rows.append(f"{name:32} median {statistics.median(values):12,.2f}{unit}  "
                    f"(min {min(values):,.2f}, max {max(values):,.2f})")
    startup = [r["startup_cpu"] for r in results if "startup_cpu" in r]
    if startup:  # the whole agent as a child process: its start-up is reported apart
        rows.append(f"{'start-up CPU-seconds (apart)':32} median {statistics.median(startup):12,.2f}")
        system = [r["system_cpu"] * 1e6 / lines for r in results]
        rows.append(f"{'of all CPU, in the kernel':32} median {statistics.median(system):12,.2f}")
    instructions = [r["instructions"] / lines for r in results if "instructions" in r]
    if instructions:  # BENCH_CALLGRIND: user-space instructions, repeatable where seconds are not
        rows.append(f"{'instructions per line (callgrind)':32} median {statistics.median(instructions):12,.0f}  "
                    f"(min {min(instructions):,.0f}, max {max(instructions):,.0f})")
    return rows


def figures(lines: int, results: list[dict[str, float]]) -> list[tuple[str, list[float], str]]:
    return [("CPU-seconds per million lines", [r["cpu"] * 1e6 / lines for r in results], ""),
            ("lines per second (wall)", [lines / r["wall"] for r in results], ""),
            ("peak RSS", [r["rss_mb"] for r in results], " MB")]

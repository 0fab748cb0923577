"""Benchmark: kubelet-like journal entries (~20 fields each, as kubelet's entries have) into the spool.

    .venv/bin/python bench/journald_to_spool.py [--entries 200000] [--runs 3] [--compare]

Prints CPU-seconds per million entries, entries/s and peak RSS of the journald source reading a
journal file written by systemd-journal-remote, cursor committed with every block. `--compare`
also prints what reading alone costs per entry by the ways there are to read a journal: systemd-
python's `get_next()` (every field converted in Python), its C-level methods (what the source
uses), and `journalctl -o export` / `-o json` in a subprocess (its CPU counted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workload import summarize  # noqa: E402
from shipper.agent import settle_heap  # noqa: E402
from shipper.buffer.spool import Spool  # noqa: E402
from shipper.sources.journald.config import JournaldOptions  # noqa: E402
from shipper.sources.journald.source import JournaldSource  # noqa: E402
from tests.journal import export_entry, write_journal  # noqa: E402

KUBELET_FIELDS = {
    "_PID": "1234", "_UID": "0", "_GID": "0", "_COMM": "kubelet", "_EXE": "/usr/bin/kubelet",
    "_CMDLINE": "/usr/bin/kubelet --config=/etc/kubernetes/kubelet/config.json "
                "--kubeconfig=/var/lib/kubelet/kubeconfig",
    "_CAP_EFFECTIVE": "1ffffffffff", "_SYSTEMD_CGROUP": "/runtime.slice/kubelet.service",
    "_SYSTEMD_UNIT": "kubelet.service", "_SYSTEMD_SLICE": "runtime.slice",
    "_SYSTEMD_INVOCATION_ID": "6b1e0f1f0a2c4d7e9b3f5a1c2d3e4f50", "_MACHINE_ID": "ec2a1b2c3d4e5f60718293a4b5c6d7e8",
    "_HOSTNAME": "ip-10-0-1-5.ec2.internal", "_TRANSPORT": "stdout", "PRIORITY": "6", "SYSLOG_FACILITY": "3",
    "SYSLOG_IDENTIFIER": "kubelet", "_STREAM_ID": "0b1c2d3e4f5061728394a5b6c7d8e9f0",
}


def make_journal(directory: Path, entries: int) -> None:
    start_us = (time.time_ns() - 3600 * 10**9) // 1000
    write_journal(directory / "system.journal", [
        export_entry(i, {"MESSAGE": f'I1202 10:15:00.123456    1234 kubelet.go:{i % 3000}] "SyncLoop (PLEG): event '
                                    f'for pod" pod="shop/web-{i % 50}" event=ContainerStarted', **KUBELET_FIELDS},
                     start_us + i) for i in range(entries)])


async def ingest(directory: Path, data_dir: Path, entries: int) -> None:
    spool = Spool.open(data_dir, max_size=8 * 1024**3)
    spool.attach_sinks({"bench": ["journal"]})
    options = JournaldOptions.model_validate({"type": "journald", "directory": str(directory),
                                              "read_from": "beginning"})
    source = JournaldSource("journal", options, spool, "bench")
    task = asyncio.create_task(source.run())
    while spool.events < entries:
        await asyncio.sleep(0.01)
    source.stop()
    await task
    spool.close()


def one_run(workdir: Path, entries: int) -> dict[str, float]:
    settle_heap()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(ingest(workdir / "journal", workdir / f"data-{time.monotonic_ns()}", entries))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu": cpu, "wall": wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def compare(directory: Path, entries: int) -> list[str]:
    """Microseconds of CPU per entry to read the journal, each way (reading only, no records)."""
    from systemd import journal

    def in_process(read) -> float:
        reader = journal.Reader(path=str(directory))
        reader.seek_head()
        cpu0 = time.process_time()
        read(reader)
        return (time.process_time() - cpu0) * 1e6 / entries

    def get_next(reader) -> None:
        while reader.get_next():
            pass

    def c_level(reader) -> None:
        while reader._next():
            reader._get_realtime()
            reader._get_all()

    def journalctl(output: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["journalctl", f"--directory={directory}", "-o", output, "--no-pager"],
                       stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1e6 / entries

    rows = [("systemd-python get_next()", in_process(get_next)), ("C-level _next/_get_all", in_process(c_level)),
            ("journalctl -o export (child)", journalctl("export")), ("journalctl -o json (child)", journalctl("json"))]
    return [f"{name:32} {cost:6.2f} us per entry (reading only)" for name, cost in rows]


def measure(entries: int, runs: int, with_comparison: bool = False) -> tuple[list[dict[str, float]], list[str]]:
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        make_journal(workdir / "journal", entries)
        results = [json.loads(subprocess.run([sys.executable, __file__, "--one-run", tmp, "--entries", str(entries)],
                                             capture_output=True, text=True, check=True).stdout)
                   for _ in range(runs)]
        return results, compare(workdir / "journal", entries) if with_comparison else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--one-run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(one_run(Path(args.one_run), args.entries)))
        return
    print(f"{args.entries:,} kubelet-like journal entries (~20 fields) -> spool, {args.runs} runs")
    results, comparison = measure(args.entries, args.runs, args.compare)
    print("\n".join(summarize(args.entries, results)).replace("lines", "entries"))
    print("\n".join(comparison))


if __name__ == "__main__":
    main()

"""Benchmark: the real agent tails N CRI lines (~200 bytes) and sends them to rsyslog over TLS.

    .venv/bin/python bench/tail_to_syslog.py [--lines 1000000] [--runs 3] [--framing octet_counting|newline]

rsyslog (with rsyslog-gnutls, installed by .ci/run) runs on loopback with a certificate made for the
run. Prints lines per second, CPU-seconds per million lines (the agent's alone, start-up apart) and
peak RSS. Every run ends only once rsyslog has written every line.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agent_run import measure_sink  # noqa: E402
from bench.workload import summarize  # noqa: E402
from peers.pki import CertificateAuthority  # noqa: E402
from peers.rsyslog import Rsyslog  # noqa: E402


def measure(lines: int, runs: int, framing: str = "octet_counting") -> list[dict[str, float]]:
    """One result per run: a fresh agent and a fresh rsyslog receiving `lines` CRI lines over TLS."""

    @contextmanager
    def rsyslog_sink(workdir: Path, run: int) -> Iterator[dict[str, Any]]:
        ca = CertificateAuthority(workdir / f"pki-{run}")
        rsyslog = Rsyslog(workdir / f"rsyslog-{run}", ca, ca.issue("server")).start()
        try:
            yield {"type": "syslog", "inputs": ["pods"], "address": f"localhost:{rsyslog.port}",
                   "tls": {"ca_file": str(ca.ca_file)}, "framing": framing}
            deadline = time.monotonic() + 120
            while _count_lines(rsyslog.output) < lines and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _count_lines(rsyslog.output) >= lines, "rsyslog did not receive every line"
        finally:
            rsyslog.stop()

    return measure_sink(lines, runs, rsyslog_sink)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--framing", default="octet_counting", choices=["octet_counting", "newline"])
    args = parser.parse_args()
    print(f"{args.lines} CRI lines of 217 bytes to rsyslog over TLS ({args.framing}), {args.runs} runs")
    results = measure(args.lines, args.runs, args.framing)
    print("\n".join(summarize(args.lines, results)))


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


if __name__ == "__main__":
    main()

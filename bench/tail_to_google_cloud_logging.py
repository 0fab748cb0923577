"""Benchmark: the real agent tails N CRI lines (~200 bytes) and writes them to Cloud Logging's stand-in.

    .venv/bin/python bench/tail_to_google_cloud_logging.py [--lines 1000000] [--runs 3] [--payload json|text]

The stand-in (peers/fake_google_logging.py, aiohttp on loopback, in this process: its CPU is not the
agent's) parses each request and counts its entries (the tests check each entry; here that would make
the stand-in the bottleneck) and tells the cluster's name and location as GKE's metadata server does
(records go under k8s_container); the agent signs in with a
service account key exchanged at the stand-in's token endpoint. Batches of 1,000 entries, uncompressed, 4
requests in flight (the sink's defaults). Prints lines per second, CPU-seconds per million lines (the
agent's alone, start-up apart) and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agent_run import measure_sink  # noqa: E402
from bench.workload import summarize  # noqa: E402
from peers.fake_google_logging import FakeGoogleCloud  # noqa: E402


def measure(lines: int, runs: int, payload: str = "json") -> list[dict[str, float]]:
    """One result per run: a fresh agent and a fresh stand-in taking `lines` CRI lines."""

    @contextmanager
    def google_sink(workdir: Path, run: int) -> Iterator[dict[str, Any]]:
        google = FakeGoogleCloud(keep=False).start()
        google.metadata |= {"instance/attributes/cluster-name": "bench", "instance/attributes/cluster-location":
                            "europe-west1"}  # a GKE node: container records go under k8s_container
        os.environ["GCE_METADATA_HOST"] = os.environ["GCE_METADATA_IP"] = google.url.removeprefix("http://")
        try:
            yield {"type": "google_cloud_logging", "inputs": ["pods"], "project_id": google.project_id,
                   "endpoint": google.url, "credentials_file": str(google.service_account_file(workdir)),
                   "payload": payload}
            assert google.count >= lines, f"the stand-in took {google.count} of {lines} lines"
        finally:
            google.stop()
            del os.environ["GCE_METADATA_HOST"], os.environ["GCE_METADATA_IP"]

    return measure_sink(lines, runs, google_sink)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--payload", default="json", choices=["json", "text"])
    args = parser.parse_args()
    print(f"{args.lines} CRI lines of 217 bytes to Cloud Logging's stand-in ({args.payload}Payload), {args.runs} runs")
    print("\n".join(summarize(args.lines, measure(args.lines, args.runs, args.payload))))


if __name__ == "__main__":
    main()

"""Benchmark: tail N CRI lines (~200 bytes) from a kubelet-style file into the spool.

    .venv/bin/python bench/tail_to_spool.py [--lines 1000000] [--runs 3]

Prints lines/s, CPU-seconds per million lines and peak RSS (median, min, max over the runs).
Each run happens in a fresh process so RSS and caches do not carry over.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workload import generate, make_pod, summarize  # noqa: E402
from peers.kube_api import FakeKubeApi  # noqa: E402
from peers.kube_api import pod as kube_pod  # noqa: E402
from shipper.agent import settle_heap  # noqa: E402
from shipper.buffer.spool import Spool  # noqa: E402
from shipper.components import TRANSFORMS, parse_config  # noqa: E402
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions as Options  # noqa: E402
from shipper.sources.kubernetes_logs.source import KubernetesLogsSource  # noqa: E402
from shipper.transforms.pipeline import fanout  # noqa: E402


async def ingest(data_dir: Path, include: str, size: int, kubeconfig: str | None = None,
                 transform: dict[str, Any] | None = None) -> None:
    spool = Spool.open(data_dir, max_size=8 * 1024**3)
    api = {"api": {"kubeconfig": kubeconfig, "node_name": "node-1"}} if kubeconfig else {}
    options = Options.model_validate({"type": "kubernetes_logs", "include": [include], **api})
    source = KubernetesLogsSource("pods", options, spool, "bench")
    spool.attach_sinks({"bench": [with_transform(source, transform) if transform else "pods"]})
    task = asyncio.create_task(source.run())
    while not any(t.offset >= size for t in source.files.values()):
        await asyncio.sleep(0.01)
    source.stop()
    await task
    spool.close()


def with_transform(source: KubernetesLogsSource, transform: dict[str, Any]) -> str:
    """Give the source one transform, as the agent would; returns the stream a sink takes."""
    config = parse_config(json.dumps({
        "data_dir": "/unused", "sources": {"pods": {"type": "kubernetes_logs"}},
        "transforms": {"t": {**transform, "inputs": ["pods"]}},
        "sinks": {"bench": {"type": "console", "inputs": ["t"]}},
    }), "bench", {})
    options = config.transforms["t"]
    source.fanout = fanout(config.topology().plan("pods"), {"t": TRANSFORMS[options.type].load()("t", options)})
    return "t"


def one_run(workdir: Path, kubeconfig: str | None = None, transform: dict[str, Any] | None = None) -> dict[str, float]:
    """CPU and wall time from the first read to the last commit (interpreter start-up excluded)."""
    log = next(workdir.glob("pods/*/app/0.log"))
    include = str(workdir / "containers" / "*.log")
    data_dir = workdir / f"data-{time.monotonic_ns()}"
    if kubeconfig:
        import kubernetes  # noqa: F401 - its import is start-up, not per-record cost
    settle_heap()  # the collector's settings of the running agent
    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(ingest(data_dir, include, log.stat().st_size, kubeconfig, transform))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"cpu": cpu, "wall": wall, "rss_mb": peak_kib / 1024}


def measure(lines: int, runs: int, api: bool = False, transform: dict[str, Any] | None = None,
            **workload: Any) -> tuple[list[dict[str, float]], int]:
    """One result per run, each in a fresh process; also the number of records the workload holds.
    With `api`, the source enriches from a stand-in API server that knows the pod; with `transform`
    (a transform's options), its records go through it before the spool."""
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        pod = make_pod(workdir)
        records = generate(pod / "0.log", lines, **workload)
        server, extra = None, []
        if api:
            server = FakeKubeApi().start()
            server.add(kube_pod("bench", "gen-1", "00000000-0000-0000-0000-000000000001",
                                labels={"app": "gen", "team": "bench"}))
            extra = ["--kubeconfig", str(server.kubeconfig(workdir / "kubeconfig"))]
        if transform:
            extra += ["--transform", json.dumps(transform)]
        try:
            results = []
            for _ in range(runs):
                out = subprocess.run([sys.executable, __file__, "--one-run", tmp, *extra], capture_output=True,
                                     text=True, check=True)
                results.append(json.loads(out.stdout))
        finally:
            if server is not None:
                server.stop()
    return results, records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--api", action="store_true", help="enrich from a stand-in Kubernetes API server")
    parser.add_argument("--one-run", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    parser.add_argument("--transform", type=json.loads, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(one_run(Path(args.one_run), args.kubeconfig, args.transform)))
        return
    print(f"{args.lines} CRI lines of 217 bytes, {args.runs} runs{', enriched from the API' if args.api else ''}")
    results, _ = measure(args.lines, args.runs, api=args.api)
    print("\n".join(summarize(args.lines, results)))


if __name__ == "__main__":
    main()

"""Benchmark: N records from a forward client into the forward source and the spool.

    .venv/bin/python bench/forward_to_spool.py [--records 1000000] [--runs 3] [--mode packed|message]

The client runs in a process of its own (its CPU is not counted) and sends Docker-driver-like records
(`log` of ~200 bytes, container_id, container_name, source) with EventTime, as Fluent Bit does with
`Require_ack_response`: `packed` sends PackedForward messages of 1,000 records and waits for each
ack; `message` sends one record per message (Docker's driver), acks every 1,000. The source runs in
this process, with the spool, from the first byte to the last commit; prints CPU-seconds per million
records, records per second and peak RSS (median, min, max over runs, each in a fresh process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgpack  # noqa: E402

from bench.workload import summarize  # noqa: E402
from peers.rsyslog import free_port  # noqa: E402
from shipper.agent import settle_heap  # noqa: E402
from shipper.buffer.spool import Spool  # noqa: E402
from shipper.sources.forward.config import ForwardOptions  # noqa: E402
from shipper.sources.forward.protocol import event_time  # noqa: E402
from shipper.sources.forward.source import ForwardSource  # noqa: E402

CHUNK = 1000


def client(port: int, records: int, mode: str) -> None:
    """Send `records` records and wait for every ack (run in its own process)."""
    start = int(time.time()) - 3600
    line = "x" * 180
    with socket.create_connection(("127.0.0.1", port)) as connection:
        stream = msgpack.Unpacker()
        for first in range(0, records, CHUNK):
            entries = [[event_time(start + n // 1000, n % 1000 * 1000),
                        {"log": f"{n:08d} {line}", "container_id": "c" * 64, "container_name": "/web",
                         "source": "stdout"}] for n in range(first, min(first + CHUNK, records))]
            chunk = f"chunk-{first}"
            if mode == "packed":
                packed = b"".join(msgpack.packb(entry) for entry in entries)
                payload = msgpack.packb(["docker.web", packed, {"chunk": chunk, "size": len(entries)}])
            else:
                payload = b"".join(msgpack.packb(["docker.web", *entry]) for entry in entries[:-1])
                payload += msgpack.packb(["docker.web", *entries[-1], {"chunk": chunk}])
            connection.sendall(payload)
            while True:
                data = connection.recv(4096)
                assert data, "the source closed the connection"
                stream.feed(data)
                if any(answer.get("ack") == chunk for answer in stream):
                    break


async def ingest(data_dir: Path, records: int, mode: str) -> dict[str, float]:
    spool = Spool.open(data_dir, max_size=8 * 1024**3)
    port = free_port()
    options = ForwardOptions.model_validate({"type": "forward", "address": f"127.0.0.1:{port}"})
    source = ForwardSource("docker", options, spool, "bench")
    spool.attach_sinks({"bench": ["docker"]})
    task = asyncio.create_task(source.run())
    while not _listening(port):
        await asyncio.sleep(0.01)
    sender = subprocess.Popen([sys.executable, __file__, "--client", str(port), str(records), mode])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while spool.events < records:
        await asyncio.sleep(0.01)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await asyncio.to_thread(sender.wait)
    source.stop()
    await task
    spool.close()
    return {"cpu": cpu, "wall": wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def measure(records: int, runs: int, mode: str = "packed") -> list[dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        results = []
        for run in range(runs):
            out = subprocess.run([sys.executable, __file__, "--one-run", str(Path(tmp) / f"data-{run}"),
                                  "--records", str(records), "--mode", mode], capture_output=True, text=True,
                                 check=True)
            results.append(json.loads(out.stdout))
        return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mode", default="packed", choices=["packed", "message"])
    parser.add_argument("--one-run", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(int(args.client[0]), int(args.client[1]), args.client[2])
        return
    if args.one_run:
        settle_heap()
        print(json.dumps(asyncio.run(ingest(Path(args.one_run), args.records, args.mode))))
        return
    print(f"{args.records} Docker-driver-like records over forward ({args.mode}), {args.runs} runs")
    print("\n".join(summarize(args.records, measure(args.records, args.runs, args.mode))))


if __name__ == "__main__":
    main()

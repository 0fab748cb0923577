"""The benchmark scenarios that need more than one process and a file: journald -> CloudWatch, delivery
latency at a steady rate, and the SIGTERM drain of a full backlog. Each `measure` returns figures."""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agent_run import cpu_seconds, delivered, read_whole, run_agent, sample, spool_empty  # noqa: E402
from bench.workload import LiveWriter, cri_time, make_node, make_pod  # noqa: E402
from peers.fake_cloudwatch import FakeCloudWatch  # noqa: E402
from peers.fault_proxy import FaultProxy  # noqa: E402

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def cloudwatch_sink(url: str, inputs: list[str], stream: str = "{kubernetes.pod_name}") -> dict:
    return {"type": "cloudwatch_logs", "inputs": inputs, "region": "us-east-1", "endpoint": url,
            "group_name": f"/bench/{time.time_ns()}", "stream_name": stream, "create_missing_group": True}


def journald_to_cloudwatch(entries: int, runs: int) -> list[dict[str, float]]:
    """A journal file of `entries` entries (written by systemd-journal-remote) shipped to the fake endpoint."""
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        journal = workdir / "journal"
        journal.mkdir()
        start_us = (time.time_ns() - 3600 * 10**9) // 1000
        export = b"".join(
            f"__CURSOR=s=0;i={i}\n__REALTIME_TIMESTAMP={start_us + i}\n__MONOTONIC_TIMESTAMP={i}\n"
            f"_BOOT_ID={'0' * 32}\nMESSAGE=kubelet line {i:09d} {'z' * 150}\nPRIORITY=6\n"
            f"_SYSTEMD_UNIT=kubelet.service\nSYSLOG_IDENTIFIER=kubelet\n\n".encode() for i in range(entries))
        subprocess.run([JOURNAL_REMOTE, f"--output={journal / 'system.journal'}", "-"], input=export, check=True,
                       capture_output=True)
        results = []
        for run in range(runs):
            fake = FakeCloudWatch(store=False).start()
            source = {"journal": {"type": "journald", "directory": str(journal), "read_from": "beginning"}}
            try:
                results.append(run_agent(
                    workdir, {"cw": cloudwatch_sink(fake.url, ["journal"], stream="node")}, run,
                    lambda data, fake=fake: fake.accepted >= entries and spool_empty(data), AWS_ENV, source))
            finally:
                fake.stop()
        return results


def latency(rate: int, seconds: float) -> dict[str, float]:
    """Lines written at `rate` per second with kubelet rotation; seconds from write to acceptance."""
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        pod = make_pod(workdir)
        fake = FakeCloudWatch(store=False, latencies=True).start()
        config = _config(workdir, {"cw": cloudwatch_sink(fake.url, ["pods"])})
        agent = _start(workdir, config)
        try:
            writer = LiveWriter(pod, rate, seconds)
            writer.start()
            writer.join()
            deadline = time.monotonic() + 60
            while fake.accepted < writer.written and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
            fake.stop()
        values = sorted(fake.latencies or [0.0])
        return {"lines": writer.written, "delivered": fake.accepted, "p50": statistics.median(values),
                "p99": values[int(len(values) * 0.99) - 1], "max": values[-1], "samples": values}


def sigterm_drain(records: int) -> dict[str, float]:
    """`records` waiting in the spool behind a denied endpoint; access returns and SIGTERM comes at once.
    How long the agent takes to deliver them all and exit (shutdown_timeout 20 s)."""
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        fake = FakeCloudWatch(store=False).start()
        proxy = FaultProxy(fake.url).start()
        proxy.deny(True)
        log = make_node(workdir, records)
        config = _config(workdir, {"cw": cloudwatch_sink(proxy.url, ["pods"])})
        agent = _start(workdir, config)
        data_dir = workdir / "data"
        try:
            while not read_whole(data_dir, log):
                time.sleep(0.1)
            proxy.deny(False)
            started = time.perf_counter()
            agent.send_signal(signal.SIGTERM)
            code = agent.wait(60)
            took = time.perf_counter() - started
        finally:
            proxy.stop()
            fake.stop()
        return {"records": records, "seconds": took, "delivered": fake.accepted, "exit_code": code,
                "left_in_spool": 0 if delivered(data_dir, log) else records - fake.accepted}


def idle(files: int = 300, seconds: float = 60.0) -> dict[str, float]:
    """A node at rest: `files` container logs already read and delivered, then nothing written for
    `seconds`. The agent's CPU over that time (percent of one core) and its RSS at the end."""
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        workdir = Path(tmp)
        for n in range(files):
            log = make_pod(workdir, name=f"idle-{n}") / "0.log"
            log.write_text(f"{cri_time(time.time_ns())} stdout F started {n}\n")
        config = workdir / "shipper.yaml"
        config.write_text(yaml.safe_dump({
            "data_dir": str(workdir / "data"),
            "sources": {"pods": {"type": "kubernetes_logs", "include": [str(workdir / "containers" / "*.log")]}},
            "sinks": {"out": {"type": "console", "inputs": ["pods"]}},
        }))
        agent = _start(workdir, config)
        try:
            while not spool_empty(workdir / "data") or _committed(workdir / "data") < files:
                time.sleep(0.2)
            time.sleep(2)  # let start-up work (the first scans, the collector) settle
            before = cpu_seconds(agent.pid)
            sampler = sample(agent.pid)
            time.sleep(seconds)
            used = cpu_seconds(agent.pid) - before
            if sampler is not None:
                sampler.send_signal(signal.SIGINT)
                sampler.wait()
            rss_mb = int(Path(f"/proc/{agent.pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
        return {"files": files, "seconds": seconds, "core_percent": 100 * used / seconds, "rss_mb": rss_mb}


def _committed(data_dir: Path) -> int:
    path = data_dir / "spool.db"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def _config(workdir: Path, sinks: dict) -> Path:
    config = workdir / "shipper.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(workdir / "data"),
        "sources": {"pods": {"type": "kubernetes_logs", "include": [str(workdir / "containers" / "*.log")],
                             "poll_interval": "100ms"}},
        "sinks": sinks,
    }))
    return config


def _start(workdir: Path, config: Path) -> subprocess.Popen:
    log = workdir / "agent.log"
    agent = subprocess.Popen([sys.executable, "-m", "shipper", "run", "--config", str(config)],
                             env={**os.environ, **AWS_ENV}, stdout=subprocess.DEVNULL, stderr=open(log, "wb"),  # noqa: SIM115
                             cwd=ROOT)
    while b"running " not in log.read_bytes():
        time.sleep(0.01)
    return agent

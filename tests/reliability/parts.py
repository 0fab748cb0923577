"""The moving parts of a reliability run: the agent under a supervisor (as kubelet or systemd would
restart it), the data dir's disk, and the two backends with their fault switches."""

from __future__ import annotations

import errno
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from peers.fault_proxy import FaultProxy
from peers.pki import CertificateAuthority
from peers.rsyslog import Rsyslog
from tests.agent_process import AgentProcess, http_get, wait_for
from tests.cloudwatch import arrived, logs_client
from tests.s3 import Bucket
from tests.streams import FirehoseToS3
from tests.syslog import parse

RESTART_BACKOFF = 1.0


class Supervisor(threading.Thread):
    """Keeps one agent running, restarting it like a DaemonSet's kubelet when it exits on its own."""

    def __init__(self, config: Path, api: str):
        super().__init__(daemon=True, name="supervisor")
        self.config = config
        self.api = api
        self.agent: AgentProcess | None = None
        self.unexpected_exits: list[tuple[int, str]] = []  # exit code, the end of that run's log
        self.starts = 0
        self._lock = threading.Lock()
        self._wanted = False
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.wait(0.2):
            with self._lock:
                agent = self.agent
                if not self._wanted or agent is None or agent.process.poll() is None:
                    continue
                self.unexpected_exits.append((agent.process.returncode, agent.log()[-3000:]))
            time.sleep(RESTART_BACKOFF)
            with self._lock:
                if self._wanted and self.agent is agent:
                    self._spawn()

    def up(self) -> None:
        with self._lock:
            self._wanted = True
            if self.agent is None or self.agent.process.poll() is not None:
                self._spawn()

    def _spawn(self) -> None:
        self.agent = AgentProcess(self.config, stdout=subprocess.DEVNULL)
        self.starts += 1

    def kill(self) -> None:
        with self._lock:
            self._wanted = False
            if self.agent is not None and self.agent.process.poll() is None:
                self.agent.kill()

    def term(self, timeout: float) -> int | None:
        """SIGTERM; the exit code (None if it had already exited on its own)."""
        with self._lock:
            self._wanted = False
            agent = self.agent
        if agent is None or agent.process.poll() is not None:
            return None
        return agent.terminate(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the agent (restarted if need be) answers on its API."""
        wait_for(lambda: http_get(self.api + "/healthz")[0] == 200, timeout, "the agent's API", interval=0.1)

    def scrape(self) -> dict[tuple[str, frozenset], float]:
        status, body = http_get(self.api + "/metrics")
        assert status == 200, body
        out = {}
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                out[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return out

    def stop(self) -> None:
        self._finished.set()
        self.kill()
        self.join(5)


def total(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


class DataDisk:
    """A small tmpfs of our own for `data_dir`, so it can be filled and made read-only."""

    def __init__(self, mount_point: Path, size: str = "256m"):
        self.mount_point = mount_point
        self.data_dir = mount_point / "data"
        self.ballast = mount_point / "ballast"
        mount_point.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], check=True)
        self.data_dir.mkdir()

    def fill(self) -> int:
        """Write a ballast file until the disk has not one byte left; returns its size."""
        written = 0
        with open(self.ballast, "wb", buffering=0) as handle:
            for chunk in (1024 * 1024, 4096, 1):
                try:
                    while True:
                        written += handle.write(b"\0" * chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
        return written

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def read_only(self, on: bool) -> None:
        """The data dir becomes read-only for whatever opens it now (files already open stay writable,
        as the kernel cannot remount a filesystem read-only under open writers)."""
        if on:
            for _ in range(50):
                subprocess.run(["mount", "--bind", str(self.data_dir), str(self.data_dir)], check=True)
                if subprocess.run(["mount", "-o", "remount,bind,ro", str(self.data_dir)],
                                  capture_output=True).returncode == 0:
                    return
                # an agent restarting in between opened the spool through the new mount, which is then
                # busy: let go of it (the agent keeps its files) and try again
                subprocess.run(["umount", "-l", str(self.data_dir)], check=True)
                time.sleep(0.1)
            raise RuntimeError(f"could not make {self.data_dir} read-only")
        else:
            subprocess.run(["umount", "-l", str(self.data_dir)], check=True)  # lazily: a starting agent may hold it

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.data_dir)], capture_output=True)
        subprocess.run(["umount", "-l", str(self.mount_point)], capture_output=True)


class CloudWatchBackend:
    """LocalStack behind our fault proxy."""

    def __init__(self, localstack: str, prefix: str):
        self.proxy = FaultProxy(localstack).start()
        self.client = logs_client(localstack)
        self.prefix = prefix

    def messages(self) -> dict[tuple[str, str], list[str]]:
        return arrived(self.client, self.prefix)

    def close(self) -> None:
        self.proxy.stop()


class FirehoseBackend:
    """A Firehose delivery stream writing to S3 in LocalStack, behind a fault proxy of its own
    (partial failures, 5xx, lost answers, outages)."""

    def __init__(self, localstack: str):
        self.proxy = FaultProxy(localstack, operation="PutRecordBatch").start()
        self.stream = FirehoseToS3.create(localstack)

    def messages(self) -> list[str]:
        return [json.loads(line)["message"] for line in self.stream.lines()]

    def close(self) -> None:
        self.proxy.stop()


class S3Backend:
    """A bucket in LocalStack that the s3 sink writes objects to, behind a fault proxy of its own (5xx,
    answers lost after the object was stored, outages)."""

    def __init__(self, localstack: str):
        self.proxy = FaultProxy(localstack, operation="PutObject").start()
        self.bucket = Bucket.create(localstack)

    def messages(self) -> list[str]:
        return [json.loads(line)["message"] for line in self.bucket.lines()]

    def close(self) -> None:
        self.proxy.stop()


class SyslogBackend:
    """A real rsyslog with TLS; restarted on the same port."""

    def __init__(self, directory: Path):
        self.ca = CertificateAuthority(directory / "pki")
        self.server = Rsyslog(directory / "rsyslog", self.ca, self.ca.issue("localhost")).start()
        self.port = self.server.port

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def messages(self) -> list[str]:
        return [parse(raw).msg for raw in self.server.messages()]

    def close(self) -> None:
        self.server.stop()


def agent_config(root: Path, data_dir: Path, api: str, cloudwatch: CloudWatchBackend, syslog: SyslogBackend,
                 forward_port: int, http_url: str, firehose: FirehoseBackend, s3: S3Backend) -> dict[str, Any]:
    inputs = ["pods", "journal", "hostile", "forward"]
    return {
        "data_dir": str(data_dir),
        "shutdown_timeout": "5s",
        "api": {"address": api.removeprefix("http://")},
        "log": {"level": "info"},
        "sources": {
            "pods": {"type": "kubernetes_logs", "include": [str(root / "containers" / "*.log")],
                     "poll_interval": "100ms", "discover_interval": "500ms"},
            "journal": {"type": "journald", "directory": str(root / "journal"), "read_from": "beginning"},
            "hostile": {"type": "file", "include": [str(root / "hostile" / "*"), str(root / "hostile" / "tiny" / "*")],
                        "poll_interval": "200ms", "discover_interval": "2s", "max_line_size": "1MiB"},
            "forward": {"type": "forward", "address": f"127.0.0.1:{forward_port}"},
        },
        "sinks": {
            "cloudwatch": {
                "type": "cloudwatch_logs", "inputs": inputs, "region": "us-east-1", "endpoint": cloudwatch.proxy.url,
                "group_name": cloudwatch.prefix + "/{kubernetes.namespace}",
                "stream_name": "{kubernetes.pod_name}.{kubernetes.container_name}",
                "fallback_group_name": cloudwatch.prefix + "/node", "fallback_stream_name": "node",
                "create_missing_group": True, "batch_timeout": "200ms", "request_timeout": "3s",
            },
            "syslog": {
                "type": "syslog", "inputs": inputs, "address": f"localhost:{syslog.port}",
                "tls": {"ca_file": str(syslog.ca.ca_file)}, "app_name": "shipper", "max_message_size": "64KiB",
            },
            "http": {"type": "http", "inputs": inputs, "uri": f"{http_url}/ingest", "compression": "gzip",
                     "batch_timeout": "200ms", "request_timeout": "3s"},
            "firehose": {"type": "firehose", "inputs": inputs, "region": "us-east-1", "endpoint": firehose.proxy.url,
                         "delivery_stream": firehose.stream.name, "pack": True, "compression": "gzip",
                         "batch_timeout": "200ms", "request_timeout": "3s"},
            "s3": {"type": "s3", "inputs": inputs, "region": "us-east-1", "endpoint": s3.proxy.url,
                   "bucket": s3.bucket.name, "key": "{kubernetes.namespace}/%Y/%m/%d/%H/{uuid}.ndjson.gz",
                   "max_object_bytes": "1MiB", "max_object_age": "500ms", "request_timeout": "3s"},
        },
    }


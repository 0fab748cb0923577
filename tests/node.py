"""A simulated Kubernetes node: pod log directories, `/var/log/containers` links, kubelet-style writers."""

from __future__ import annotations

import gzip
import os
import random
import threading
import time
from pathlib import Path

CONTAINER_ID = "a" * 64


def make_pod(root: Path, namespace: str, pod: str, container: str = "app", uid: str | None = None,
             container_id: str = CONTAINER_ID) -> Path:
    """Create `pods/<ns>_<pod>_<uid>/<container>/0.log` and its link in `containers/`; returns the dir."""
    uid = uid or "11111111-2222-3333-4444-555555555555"
    pod_dir = root / "pods" / f"{namespace}_{pod}_{uid}" / container
    pod_dir.mkdir(parents=True)
    (pod_dir / "0.log").touch()
    containers = root / "containers"
    containers.mkdir(exist_ok=True)
    os.symlink(pod_dir / "0.log", containers / f"{pod}_{namespace}_{container}-{container_id}.log")
    return pod_dir


def cri_time(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


class KubeletWriter(threading.Thread):
    """Writes CRI lines (some split into P fragments) to 0.log; rotates it like kubelet every N lines:
    rename to 0.log.<timestamp>, create a new 0.log, later gzip the rotated file and delete it."""

    def __init__(self, pod_dir: Path, lines: int, rotate_every: int, seed: int, prefix: str = "msg",
                 pause_every: int = 200):
        super().__init__(daemon=True)
        self.pod_dir = pod_dir
        self.lines = [f"{prefix} {i:06d} " + "p" * (i % 50) for i in range(lines)]
        self.rotate_every = rotate_every
        self.random = random.Random(seed)
        self.pause_every = pause_every
        self.rotations = 0

    def run(self) -> None:
        log = self.pod_dir / "0.log"
        rotated: list[Path] = []
        handle = open(log, "a")  # noqa: SIM115 - the writer keeps it open across rotations, like a runtime
        for i, line in enumerate(self.lines):
            stamp = cri_time(time.time_ns())
            if i % 7 == 0 and len(line) > 12:
                handle.write(f"{stamp} stdout P {line[:12]}\n{stamp} stdout F {line[12:]}\n")
            else:
                handle.write(f"{stamp} stdout F {line}\n")
            handle.flush()
            if i and i % self.rotate_every == 0:
                handle.close()
                target = self.pod_dir / f"0.log.{time.strftime('%Y%m%d-%H%M%S')}-{i}"
                log.rename(target)
                rotated.append(target)
                handle = open(log, "a")  # noqa: SIM115
                self.rotations += 1
                self._compress_and_delete(rotated)
            if i % self.pause_every == 0:
                time.sleep(0.01)
        handle.close()

    def _compress_and_delete(self, rotated: list[Path]) -> None:
        if len(rotated) >= 2:  # kubelet compresses all but the newest rotated file
            old = rotated.pop(0)
            with open(old, "rb") as src, gzip.open(f"{old}.gz", "wb") as dst:
                dst.write(src.read())
            old.unlink()
        for gz in sorted(self.pod_dir.glob("0.log.*.gz"))[:-1]:
            gz.unlink()


def write_cri(pod_dir: Path, lines: list[str], stream: str = "stdout") -> None:
    """Whole CRI lines stamped now, appended to the pod's 0.log."""
    with open(pod_dir / "0.log", "a") as log:
        for line in lines:
            log.write(f"{cri_time(time.time_ns())} {stream} F {line}\n")

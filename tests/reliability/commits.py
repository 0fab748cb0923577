"""Watches the agent's committed file checkpoints from outside, so the simulated kubelet deletes a log
file only once the agent has read it all.

Deleting a file nobody has read yet loses its lines for any agent, however careful: the run would
measure the simulator, not the agent. A real kubelet keeps rotated files far longer than the
seconds the agent is down here, so waiting costs the test no realism.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson


class CommitWatcher(threading.Thread):
    def __init__(self, spool: Path, interval: float = 0.1):
        super().__init__(daemon=True, name="commit-watcher")
        self.spool = spool
        self.interval = interval
        self.offsets: dict[str, int] = {}  # file identity (dev:ino) -> its last committed offset
        self.finished: set[str] = set()  # identities seen, then gone: the agent finished the file
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        pause = self.interval
        while not self._stop_event.wait(pause):
            started = time.monotonic()
            current = self._read()
            # a reader holding the spool most of the time keeps SQLite from resetting its WAL, which
            # then grows without bound: with 100,000 checkpoints a read takes a while, so read less often
            pause = max(self.interval, 4 * (time.monotonic() - started))
            if current is None:
                continue
            with self._lock:
                self.finished |= set(self.offsets) - set(current)
                self.finished -= set(current)  # an inode used again by a new file
                self.offsets = current

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    def created(self, path: Path) -> None:
        """A writer made `path`: whatever file its inode belonged to before is not this one."""
        key = _key(path)
        with self._lock:
            self.finished.discard(key)
            self.offsets.pop(key, None)

    def fully_read(self, path: Path) -> bool:
        key, size = _key(path), os.stat(path).st_size
        with self._lock:
            return key in self.finished or self.offsets.get(key, -1) >= size

    def seen(self, path: Path) -> bool:
        """Whether the agent has opened the file (it checkpoints every file it opens)."""
        key = _key(path)
        with self._lock:
            return key in self.finished or key in self.offsets

    def wait_seen(self, path: Path, timeout: float = 600) -> float:
        """Until the agent has opened `path`; returns the seconds waited."""
        return _wait(lambda: self.seen(path), timeout, f"the agent never opened {path}")

    def wait_fully_read(self, paths: list[Path], timeout: float = 600) -> float:
        """Until the agent has committed every byte of `paths`; returns the seconds waited."""
        return _wait(lambda: all(self.fully_read(p) for p in paths), timeout,
                     f"the agent never finished reading {paths}")

    def _read(self) -> dict[str, int] | None:
        if not self.spool.exists():
            return None
        try:
            connection = sqlite3.connect(f"file:{self.spool}?mode=ro", uri=True, timeout=1)
            try:
                rows = connection.execute("SELECT key, value FROM checkpoints").fetchall()
            finally:
                connection.close()
        except sqlite3.Error:  # being created, or its disk is read-only or full right now
            return None
        out = {}
        for key, value in rows:
            if value.startswith(b"{"):  # a file's checkpoint (journald keeps a cursor string)
                out[key] = orjson.loads(value)["offset"]
        return out


def _key(path: Path) -> str:
    status = os.stat(path)
    return f"{status.st_dev}:{status.st_ino}"


def _wait(condition: Callable[[], bool], timeout: float, failure: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(failure)
        time.sleep(0.05)
    return time.monotonic() - started

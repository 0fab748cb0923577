"""The data dir: one agent at a time, readable by the agent's user alone.

Every log line of the node passes through the spool, so the data dir is 0700 and every file in it
0600, whatever made them looser before (kubelet creates a hostPath 0755; earlier versions left the
spool 0644): `make_private` tightens them at start and says what it changed.

One agent per data dir: an exclusive lock on `data_dir/lock`, held for the agent's lifetime.

Two agents on one spool would both read every file and both deliver every line. The lock is a
`flock` on a file of its own (never on the database, whose locks SQLite manages): the kernel drops
it when the holder exits, however it exits, so a kill -9 leaves no stale lock behind. The holder's
pid is written into the file for the error message of the one that is turned away.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_FILE = "lock"


class DataDirLocked(Exception):
    """Another process holds the data dir."""


class DataDirLock:
    def __init__(self, fd: int, path: Path):
        self._fd = fd
        self.path = path

    @classmethod
    def acquire(cls, data_dir: str | Path) -> DataDirLock:
        """Take the lock or raise DataDirLocked naming the holder; OSError if the dir is unusable."""
        directory = Path(data_dir)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise DataDirLocked(f"data_dir {directory} is in use by another shipper ({who}); "
                                "one agent per data_dir") from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def make_private(data_dir: str | Path) -> list[str]:
    """The data dir 0700 and the files in it 0600; returns (and logs) what was looser."""
    directory = Path(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    tightened = []
    for path, mode in [(directory, 0o700), *((p, 0o600) for p in directory.iterdir() if p.is_file())]:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            path.chmod(current & mode)
            tightened.append(f"{path} {current:04o} -> {current & mode:04o}")
    if tightened:
        log.warning("made the data dir private (its files hold every log line of the node): %s",
                    ", ".join(tightened))
    return tightened


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None

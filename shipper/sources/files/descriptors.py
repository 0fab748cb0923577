"""How many files a source holds open, and which file gets a descriptor next.

A source holds at most `max_open_files` descriptors; the rest of the agent's limit stays for its
API, spool, sinks and other sources. A file that wants a descriptor when none is free (a new file,
or a dormant one that changed) waits; waiting files get one in the order their unread lines were
found, oldest first. Descriptors come free when a file is finished, or when a file idle at its end
gives its own up (it becomes dormant: see reader.py). Only a file whose path still names it can be
dormant: a rotated or deleted file keeps its descriptor until it is read to its end, since for a
deleted file the descriptor is the last way to its lines.

Running out of descriptors anyway (EMFILE, ENFILE: other sources, a lower limit than configured)
only makes a file wait: it is never taken for a rotation or a truncation. The source then holds no
more than it had (`lowered`); TRY_AGAIN_AFTER seconds later it tries its own limit again, and reads
the process's limit again, so a passing shortage (or a limit raised back) does not leave it short for
good.
"""

from __future__ import annotations

import errno
import resource
import time
from dataclasses import dataclass

from shipper.sources.files.identity import FileIdentity

DEFAULT_MOST = 8192
RESERVE = 64  # descriptors no source may take: the spool, the API's connections, the sinks' sockets
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)
TRY_AGAIN_AFTER = 60.0  # seconds a source holds fewer files after running out, before trying its limit again


def max_open_files(configured: int | None) -> tuple[int, str | None]:
    """The most files a source may hold open, and why it is not what was configured (None if it is).

    Default: half the soft limit on open files (as the agent left it, after lifting it), at most
    DEFAULT_MOST. A configured number is kept below the limit by RESERVE."""
    soft, ceiling = _ceiling()
    if configured is None:
        return max(8, min(DEFAULT_MOST, ceiling // 2)), None
    if configured > ceiling:
        return ceiling, (f"max_open_files {configured} is more than the limit on open files ({soft}) leaves after "
                         f"a reserve of {RESERVE}; using {ceiling}")
    return configured, None


def _ceiling() -> tuple[int, int]:
    """The soft limit on open files now, and what every file source of the process may hold under it."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, DEFAULT_MOST * 16 if soft == resource.RLIM_INFINITY else max(8, soft - RESERVE)


def out_of_descriptors(error: OSError) -> bool:
    return error.errno in OUT_OF_DESCRIPTORS


@dataclass(slots=True)
class Waiting:
    """A file that wants a descriptor: at `path` when last seen, known by its identity."""

    path: str
    identity: FileIdentity
    first: bool  # found by the first scan (where `read_from: end` applies)


class _Process:
    """Descriptors every file source of the process holds, against the limit less RESERVE: however
    many sources there are and whatever their max_open_files, the reserve stays."""

    def __init__(self) -> None:
        self.open = 0
        self._limit: int | None = None

    @property
    def limit(self) -> int:
        if self._limit is None:  # read once the agent has lifted it
            self.refresh()
            assert self._limit is not None
        return self._limit

    def refresh(self) -> None:
        """Read the limit again (after EMFILE: it may have been lowered from outside, by prlimit)."""
        self._limit = _ceiling()[1]


PROCESS = _Process()


class Descriptors:
    """The source's descriptor count against its limit, and the files waiting for one."""

    def __init__(self, limit: int):
        self.limit = limit
        self.own_limit = limit  # max_open_files as resolved at start: `limit` returns to it
        self.lowered_at: float | None = None  # when running out last lowered `limit`
        self.open = 0
        self.most_open = 0  # the highest `open` has been (tests and `bench/` read it)
        self.waiting: dict[FileIdentity, Waiting] = {}

    @property
    def free(self) -> bool:
        if self.lowered_at is not None and time.monotonic() - self.lowered_at >= TRY_AGAIN_AFTER:
            self.lowered_at, self.limit = None, self.own_limit
            PROCESS.refresh()
        return self.open < self.limit and PROCESS.open < PROCESS.limit

    def lowered(self) -> None:
        """Out of descriptors: hold no more than are open now (idle files make room), for a while."""
        self.limit = max(8, min(self.limit, self.open))
        self.lowered_at = time.monotonic()
        PROCESS.refresh()

    def taken(self) -> None:
        self.open += 1
        PROCESS.open += 1
        self.most_open = max(self.most_open, self.open)

    def given_back(self) -> None:
        self.open -= 1
        PROCESS.open -= 1

    def wait(self, path: str, identity: FileIdentity, first: bool = False) -> None:
        """`identity` (at `path`) wants a descriptor; a file already waiting keeps its place."""
        if identity not in self.waiting:
            self.waiting[identity] = Waiting(path, identity, first)

    def oldest(self) -> Waiting | None:
        """The file waiting longest (files join `waiting` in the order their unread lines were found)."""
        return next(iter(self.waiting.values()), None)

    def served(self, identity: FileIdentity) -> None:
        self.waiting.pop(identity, None)

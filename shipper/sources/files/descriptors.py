"""How many files a source holds open, and which file gets a descriptor next.

A source holds at most `max_open_files` descriptors; the rest of the agent's limit stays for its
API, spool, sinks and other sources. A file that wants a descriptor when none is free (a new file,
or a dormant one that changed) waits; waiting files get one in the order their unread lines were
found, oldest first. Descriptors come free when a file is finished, or when a file idle at its end
gives its own up (it becomes dormant: see reader.py). Only a file whose path still names it can be
dormant: a rotated or deleted file keeps its descriptor until it is read to its end, since for a
deleted file the descriptor is the last way to its lines.

Running out of descriptors anyway (EMFILE, ENFILE: other sources, a lower limit than configured)
only makes a file wait: it is never taken for a rotation or a truncation.
"""

from __future__ import annotations

import errno
import resource
import time
from dataclasses import dataclass

from shipper.sources.files.identity import FileIdentity

DEFAULT_MOST = 8192
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


def default_max_open_files() -> int:
    """Half the soft limit on open files (as the agent left it, after lifting it), at most DEFAULT_MOST."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MOST
    return max(8, min(DEFAULT_MOST, soft // 2))


def out_of_descriptors(error: OSError) -> bool:
    return error.errno in OUT_OF_DESCRIPTORS


@dataclass(slots=True)
class Waiting:
    """A file that wants a descriptor: at `path` when last seen, known by its identity."""

    path: str
    identity: FileIdentity
    since: float  # monotonic time its unread lines were found
    first: bool  # found by the first scan (where `read_from: end` applies)


class Descriptors:
    """The source's descriptor count against its limit, and the files waiting for one."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open = 0
        self.most_open = 0  # the highest `open` has been (tests and `bench/` read it)
        self.waiting: dict[FileIdentity, Waiting] = {}

    @property
    def free(self) -> bool:
        return self.open < self.limit

    def taken(self) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)

    def given_back(self) -> None:
        self.open -= 1

    def wait(self, path: str, identity: FileIdentity, first: bool = False) -> None:
        """`identity` (at `path`) wants a descriptor; a file already waiting keeps its place."""
        if identity not in self.waiting:
            self.waiting[identity] = Waiting(path, identity, time.monotonic(), first)

    def in_turn(self) -> list[Waiting]:
        """The waiting files, oldest unread lines first."""
        return sorted(self.waiting.values(), key=lambda waiting: waiting.since)

    def served(self, identity: FileIdentity) -> None:
        self.waiting.pop(identity, None)

"""Finding the files to read: include globs minus exclude globs minus rotated names.

A `**` pattern walks directory trees. Python's own recursive glob follows every symbolic link to a
directory, so one link back up the tree makes it walk paths like `a/loop/loop/loop/...` until the
kernel refuses them (and several such links multiply the walk): it could take hours of one core.
Our walk visits each directory once, by device and inode, whatever links lead to it, and stops
early when the source is asked to stop. The source runs it in a worker thread, so even a huge tree
never holds the event loop.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from collections.abc import Callable, Iterator

# Names that log rotation gives to old files: app.log.1, app.log.gz, 0.log.20261122-101500, app.log-20261122
ROTATED_NAME = re.compile(r"(\.(gz|bz2|xz|zst|zip|lz4|old|bak)|\.\d+|\.log[.\-]\d[\d\-T:.Z]*)$")


class Stopped(Exception):
    """The source stopped while the walk was still going: its result would not be used."""


def discover(include: list[str], exclude: list[str], stopping: Callable[[], bool] = lambda: False,
             unmatched: list[str] | None = None) -> list[str]:
    """Paths matching an include pattern and no exclude pattern, rotated names left out, sorted;
    the patterns that matched nothing are added to `unmatched` when it is given.

    Raises Stopped when `stopping()` turns true during a walk."""
    found: set[str] = set()
    for pattern in include:
        matched = set(_expand(pattern, stopping))
        if not matched and unmatched is not None:
            unmatched.append(pattern)
        found |= matched
    return sorted(
        path for path in found
        if not ROTATED_NAME.search(path) and not any(fnmatch.fnmatchcase(path, ex) for ex in exclude)
    )


def _expand(pattern: str, stopping: Callable[[], bool]) -> Iterator[str]:
    parts = pattern.split(os.sep)
    if "**" not in parts:
        yield from glob.iglob(pattern)  # one directory level per component: no walk can loop
        return
    at = parts.index("**")
    base, rest = os.sep.join(parts[:at]) or os.sep, os.sep.join(parts[at + 1:])
    # later `**` components match one directory level, like `*`
    rest = os.sep.join("*" if part == "**" else part for part in rest.split(os.sep)) or "*"
    for top in glob.iglob(base) if glob.has_magic(base) else [base]:
        for directory in walk(top, stopping):
            yield from glob.iglob(os.path.join(glob.escape(directory), rest))


def walk(top: str, stopping: Callable[[], bool]) -> Iterator[str]:
    """`top` and every directory below it, each reached once (symbolic links followed, loops not)."""
    visited: set[tuple[int, int]] = set()
    pending = [top]
    while pending:
        if stopping():
            raise Stopped
        directory = pending.pop()
        try:
            status = os.stat(directory)
        except OSError:
            continue
        if (status.st_dev, status.st_ino) in visited:
            continue
        visited.add((status.st_dev, status.st_ino))
        yield directory
        try:
            with os.scandir(directory) as entries:
                children = [e.path for e in entries if not e.name.startswith(".") and _is_dir(e)]
        except OSError:
            continue
        pending.extend(sorted(children, reverse=True))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False

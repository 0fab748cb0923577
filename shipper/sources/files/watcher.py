"""Waking the tailer when files appear, move or vanish, instead of waiting for the next scan.

inotify watches every directory the include globs can match in, at every level of the pattern (so
a new pod's directory is seen as it is made), and the directories the tailed files really live in
(the targets of kubelet's symlinks, where rotation happens). An event only says "scan now"; the scan
itself is the same as the periodic one. A directory watched for the first time may have got files
between the scan that found it and its watch: the caller scans once more (`watch` says when).

While every such directory is watched (`complete`), the periodic scan is only a safety net for
filesystems that send no events, and runs rarely; where inotify is not available or a watch could
not be added (fs.inotify.max_user_watches reached), the periodic scan finds the files, as often as
configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
from collections.abc import Callable, Iterable

from asyncinotify import Inotify, Mask, Watch

log = logging.getLogger(__name__)

DIRECTORY_CHANGES = (
    Mask.CREATE | Mask.MOVED_TO | Mask.MOVED_FROM | Mask.DELETE | Mask.DELETE_SELF | Mask.MOVE_SELF | Mask.ONLYDIR
)


class DirectoryWatcher:
    def __init__(self, on_change: Callable[[], None], on_failure: Callable[[], None] = lambda: None):
        """`on_change`: something moved in a watched directory; `on_failure`: a directory could not be
        watched (called once per directory until it can be)."""
        self.on_change = on_change
        self.on_failure = on_failure
        self._watches: dict[str, Watch] = {}
        self._failed: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.complete = False  # every directory a file can appear in is watched (see the module's docstring)
        try:
            self._inotify: Inotify | None = Inotify()
        except OSError as error:
            log.warning("inotify is not available (%s); new files are found by the periodic scan only", error)
            self._inotify = None

    def start(self) -> None:
        if self._inotify is not None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    def watch(self, directories: set[str], bases_found: bool = True) -> bool:
        """Watch exactly `directories` from now on; True if some were not watched before (scan again:
        files may have come into them before their watch). `bases_found`: every directory a pattern
        starts from exists (else nothing can tell of its creation but a scan)."""
        if self._inotify is None:
            return False
        added = False
        for directory in directories - self._watches.keys():
            try:
                self._watches[directory] = self._inotify.add_watch(directory, DIRECTORY_CHANGES)
                self._failed.discard(directory)
                added = True
            except OSError as error:
                if directory not in self._failed:  # e.g. ENOSPC: fs.inotify.max_user_watches reached
                    self._failed.add(directory)
                    self.on_failure()
                    log.warning("cannot watch %s (%s); relying on the periodic scan there", directory, error)
        for directory in self._watches.keys() - directories:
            watch = self._watches.pop(directory)
            with contextlib.suppress(OSError):  # already gone with its directory
                self._inotify.rm_watch(watch)
        self._failed &= directories
        self.complete = bases_found and not self._failed
        return added

    async def _listen(self) -> None:
        assert self._inotify is not None
        async for event in self._inotify:
            if Mask.IGNORED not in event.mask:
                self.on_change()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inotify is not None:
            self._inotify.close()


def directories_of(patterns: Iterable[str], file_directories: Iterable[str]) -> set[str]:
    """The existing directories the glob `patterns` can match in, at every level from the directory
    a pattern starts from, plus those the files live in."""
    found = set(file_directories)
    for pattern in patterns:
        for level in _levels(os.path.dirname(pattern)):
            found.update(path for path in glob.glob(level, recursive="**" in level) if os.path.isdir(path))
    return found


def bases_exist(patterns: Iterable[str]) -> bool:
    """Whether the directory each pattern starts from (its part before the first wildcard) exists."""
    return all(os.path.isdir(_levels(os.path.dirname(pattern))[0]) for pattern in patterns)


def _levels(parent: str) -> list[str]:
    """`/a/*/b/*` -> [`/a`, `/a/*`, `/a/*/b`, `/a/*/b/*`]: the literal base, then each level below it."""
    parts = parent.split(os.sep)
    literal = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    base = os.sep.join(parts[:literal]) or os.sep
    return [base, *(os.sep.join(parts[:end]) for end in range(literal + 1, len(parts) + 1))]

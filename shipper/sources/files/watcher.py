"""Waking the tailer when files appear, move or vanish, instead of waiting for the next scan.

inotify watches the directories the include globs name and the directories the tailed files really
live in (the targets of kubelet's symlinks, where rotation happens). An event only says "scan now";
the scan itself is the same as the periodic one, so polling stays correct wherever inotify is not
available (a watch limit reached, a filesystem without events) and catches anything missed.
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
    def __init__(self, on_change: Callable[[], None]):
        self.on_change = on_change
        self._watches: dict[str, Watch] = {}
        self._failed: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        try:
            self._inotify: Inotify | None = Inotify()
        except OSError as error:
            log.warning("inotify is not available (%s); new files are found by the periodic scan only", error)
            self._inotify = None

    def start(self) -> None:
        if self._inotify is not None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    def watch(self, directories: set[str]) -> None:
        """Watch exactly `directories` from now on."""
        if self._inotify is None:
            return
        for directory in directories - self._watches.keys():
            try:
                self._watches[directory] = self._inotify.add_watch(directory, DIRECTORY_CHANGES)
            except OSError as error:
                if directory not in self._failed:  # e.g. ENOSPC: fs.inotify.max_user_watches reached
                    self._failed.add(directory)
                    log.warning("cannot watch %s (%s); relying on the periodic scan there", directory, error)
        for directory in self._watches.keys() - directories:
            watch = self._watches.pop(directory)
            with contextlib.suppress(OSError):  # already gone with its directory
                self._inotify.rm_watch(watch)

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
    """The existing directories the glob `patterns` can match in, plus those the files live in."""
    found = set(file_directories)
    for pattern in patterns:
        parent = os.path.dirname(pattern)
        found.update(path for path in glob.glob(parent, recursive="**" in parent) if os.path.isdir(path))
    return found

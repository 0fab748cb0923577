"""Noticing that the configuration file changed (`watch_config`, `shipper run --watch-config`).

A Kubernetes ConfigMap volume never rewrites the file in place: the kubelet writes a new hidden
directory and swaps the `..data` symlink that the file's own symlink goes through, so a watch on the
file itself would see nothing. The directory holding the file is watched instead (inotify: a file or
link made, moved or written there), and on any event the file is read again: only a change of its
content (its SHA-256) counts. Events come in bursts (a swap is several of them, an editor writes in
steps): a change is reported once things have been quiet for DEBOUNCE. Where inotify is not
available, the content is compared every POLL seconds instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from asyncinotify import Inotify, Mask

log = logging.getLogger(__name__)

DEBOUNCE = 1.0  # seconds without an event before the file is compared
POLL = 10.0  # seconds between comparisons without inotify
_CHANGES = (Mask.CREATE | Mask.MOVED_TO | Mask.MOVED_FROM | Mask.DELETE | Mask.CLOSE_WRITE | Mask.MODIFY
            | Mask.ATTRIB)


def digest(path: Path) -> str | None:
    """The SHA-256 of what `path` (through its symlinks) holds now; None while it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ConfigWatcher:
    def __init__(self, path: str | Path, on_change: Callable[[], None]):
        self.path = Path(path).absolute()
        self.on_change = on_change
        self.seen = digest(self.path)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="config watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def _compare(self) -> None:
        now = digest(self.path)
        if now is not None and now != self.seen:
            self.seen = now
            log.info("%s changed: reloading", self.path)
            self.on_change()

    async def _watch(self) -> None:
        try:
            inotify = Inotify()
            inotify.add_watch(self.path.parent, _CHANGES)
        except OSError as error:
            log.warning("cannot watch %s (%s); comparing it every %.0fs instead", self.path.parent, error, POLL)
            await self._poll()
            return
        with inotify:
            events = inotify.__aiter__()
            while True:
                await events.__anext__()
                while True:  # debounce: wait until the burst is over
                    try:
                        await asyncio.wait_for(events.__anext__(), DEBOUNCE)
                    except TimeoutError:
                        break
                self._compare()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL)
            self._compare()

"""The files a file source follows, and where each one stands: open and read every poll (awake),
open but looked at once per discover interval (resting), without a descriptor (dormant, looked at by
path in turn), or waiting for a descriptor (descriptors.py), and the bytes its decoder holds.

Guarantees:
- One file, one place: `forget` takes a file out of every membership at once, so a closed file is
  never read, looked at, served a descriptor or counted again.
- The open descriptors counted in `descriptors` are the files' own: each open file holds exactly
  one (taken by `add` or `reopened`, given back by `make_dormant` or `forget`).
- `pending_total` is the sum of what every followed file's decoder holds (tracked at each change),
  so the source's memory bound is checked without walking the files.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Awaitable, Callable

from shipper.sources.files.descriptors import Descriptors, Waiting
from shipper.sources.files.identity import FileIdentity
from shipper.sources.files.reader import FileState, TailedFile

DORMANT_LOOKS = 2000  # dormant files looked at by path per discover interval (in turn, when there are more)


class FileTable:
    def __init__(self, descriptors: Descriptors):
        self.descriptors = descriptors
        self.files: dict[FileIdentity, TailedFile] = {}
        self._resting: set[FileIdentity] = set()
        self._dormant: dict[FileIdentity, TailedFile] = {}  # in the order they are looked at
        self.pending_total = 0

    # -- membership ----------------------------------------------------------------------------------

    def add(self, tailed: TailedFile) -> None:
        """Follow `tailed`, opened with a descriptor just taken."""
        self.descriptors.taken()
        self.files[tailed.identity] = tailed
        self.track_pending(tailed)

    def forget(self, tailed: TailedFile) -> None:
        """Stop following `tailed`: its descriptor, its memberships and its pending bytes go."""
        if tailed.fd >= 0 and not tailed.closed:
            self.descriptors.given_back()
        tailed.close()
        self._dormant.pop(tailed.identity, None)
        self.descriptors.served(tailed.identity)
        del self.files[tailed.identity]
        self._resting.discard(tailed.identity)
        self.track_pending(tailed)

    def close_all(self) -> None:
        for tailed in self.files.values():
            if tailed.fd >= 0:
                self.descriptors.given_back()
            tailed.close()
        self.files.clear()
        self._dormant.clear()
        self._resting.clear()
        self.pending_total = 0

    # -- quiet, resting and awake files --------------------------------------------------------------

    def quiet(self, tailed: TailedFile, now: float) -> None:
        """Nothing new in `tailed` at this look; quiet since the first such look."""
        if tailed.quiet_since is None:
            tailed.quiet_since = now

    def stirred(self, tailed: TailedFile) -> None:
        """Something new in `tailed`: read it every poll again."""
        tailed.quiet_since = None
        self._resting.discard(tailed.identity)

    def rest_quiet(self, settled_before: float) -> None:
        """Files at their end and quiet since before `settled_before` *rest* from now on: looked at once
        per discover interval instead of every poll interval, until they grow. A node mostly waits, and
        hundreds of quiet files each looked at four times a second cost a few percent of a core; a
        resting file's next line is read at most `discover_interval` late."""
        self._resting = {t.identity for t in self.files.values()
                         if t.quiet_since is not None and t.quiet_since <= settled_before
                         and t.state is FileState.AT_EOF}

    @property
    def resting(self) -> frozenset[FileIdentity]:
        return frozenset(self._resting)

    def open_files(self) -> list[TailedFile]:
        return [t for t in self.files.values() if t.fd >= 0]

    def awake(self) -> list[TailedFile]:
        """The open files an ordinary round looks at: all but the resting ones (a rotated file never rests)."""
        resting = self._resting
        return [t for t in self.files.values()
                if t.fd >= 0 and (t.identity not in resting or t.rotated_at is not None)]

    # -- dormant files -------------------------------------------------------------------------------

    def idle_longest_last(self, now: float) -> list[TailedFile]:
        """Open files that may give their descriptor up (at their end, still linked), idle longest last."""
        idle = [t for t in self.files.values() if t.fd >= 0 and t.state is FileState.AT_EOF and t.links > 0]
        idle.sort(key=lambda t: now if t.quiet_since is None else t.quiet_since, reverse=True)
        return idle

    def quiet_before(self, moment: float) -> list[TailedFile]:
        """Files quiet since before `moment`."""
        return [t for t in self.files.values() if t.quiet_since is not None and t.quiet_since <= moment]

    async def give_descriptors(self, serve: Callable[[Waiting], Awaitable[bool]],
                               share_the_loop: Callable[[], Awaitable[None]]) -> None:
        """Serve the files waiting for a descriptor, oldest unread lines first (`serve` opens one; False
        when it could not, out of descriptors); when none is free, a file idle at its end gives its own
        up, the one idle longest first."""
        descriptors = self.descriptors
        idle: list[TailedFile] | None = None
        served: Waiting | None = None
        while (waiting := descriptors.oldest()) is not None and waiting is not served:
            served = waiting
            while not descriptors.free:
                if idle is None:
                    idle = self.idle_longest_last(time.monotonic())
                if not idle:
                    break
                candidate = idle.pop()
                if nothing_unread(candidate):
                    self.make_dormant(candidate)
            if not descriptors.free or not await serve(waiting):
                break
            await share_the_loop()

    def close_inactive(self, idle_since: float) -> None:
        """Files idle at their end since before `idle_since` (`close_inactive`) give their descriptors up."""
        for tailed in self.quiet_before(idle_since):
            if tailed.fd >= 0 and tailed.state is FileState.AT_EOF and nothing_unread(tailed):
                self.make_dormant(tailed)

    def look_at_dormant(self) -> None:
        """Dormant files, by path, DORMANT_LOOKS at a time in turn: one that changed waits for a descriptor."""
        for tailed in self.dormant_in_turn(DORMANT_LOOKS):
            try:
                status = os.stat(tailed.path)
            except OSError:
                status = None
            if status is None or FileIdentity.of(status) != tailed.identity or not tailed.unchanged(status):
                self.descriptors.wait(tailed.path, tailed.identity)

    def make_dormant(self, tailed: TailedFile) -> None:
        """`tailed` gives its descriptor up; it is looked at by path from now on."""
        tailed.give_up_descriptor()
        self.descriptors.given_back()
        self.stirred(tailed)  # woken, it is read at once
        self._dormant[tailed.identity] = tailed

    def dormant_in_turn(self, count: int) -> list[TailedFile]:
        """The next `count` dormant files to look at; each goes to the back of the turn."""
        turn = []
        for identity in list(itertools.islice(self._dormant, count)):
            tailed = self._dormant.pop(identity)
            self._dormant[identity] = tailed
            turn.append(tailed)
        return turn

    def reopened(self, tailed: TailedFile, fd: int) -> None:
        """A dormant file has a descriptor again."""
        del self._dormant[tailed.identity]
        self.descriptors.taken()
        tailed.reopened(fd)

    def no_longer_dormant(self, tailed: TailedFile) -> None:
        """A dormant file found gone: it is finished without a descriptor."""
        self._dormant.pop(tailed.identity, None)

    # -- pending bytes -------------------------------------------------------------------------------

    def track_pending(self, tailed: TailedFile) -> None:
        """Take in what `tailed`'s decoder holds now (nothing once it is no longer followed)."""
        held = tailed.decoder.pending_bytes if tailed.identity in self.files else 0
        self.pending_total += held - tailed.pending
        tailed.pending = held

    def oldest_pending(self) -> TailedFile:
        """The file whose decoder has held its incomplete record longest."""
        return min((t for t in self.files.values() if t.pending), key=lambda t: t.decoder.pending_since or 0.0)


def in_write_order(files: list[TailedFile]) -> list[TailedFile]:
    """Of `files`, those to read this round. A file waits while an older one of the same path (one
    rotated away before it) still has lines to read, so a path's lines are shipped in the order they
    were written, however many rotations came while the agent was stopped or behind."""
    oldest: dict[str, TailedFile] = {}  # per path, the file rotated away first that still has lines
    for tailed in files:
        if tailed.state is FileState.ROTATED and not tailed.at_eof:
            first = oldest.get(tailed.path)
            if first is None or _rotated_before(tailed, first):
                oldest[tailed.path] = tailed
    return [t for t in files if oldest.get(t.path, t) is t]


def _rotated_before(tailed: TailedFile, other: TailedFile) -> bool:
    assert tailed.rotated_at is not None and other.rotated_at is not None  # both ROTATED
    return tailed.rotated_at < other.rotated_at


def nothing_unread(tailed: TailedFile) -> bool:
    """Whether `tailed` may give its descriptor up now: still linked, nothing written since its
    last read (a deleted file's descriptor is the last way to its lines)."""
    status = os.fstat(tailed.fd)
    return status.st_nlink > 0 and tailed.unchanged(status)

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
from collections.abc import Iterator

from shipper.sources.files.descriptors import Descriptors
from shipper.sources.files.identity import FileIdentity
from shipper.sources.files.reader import FileState, TailedFile


class FileTable:
    def __init__(self, descriptors: Descriptors):
        self.descriptors = descriptors
        self.files: dict[FileIdentity, TailedFile] = {}
        self._resting: set[FileIdentity] = set()
        self._dormant: dict[FileIdentity, TailedFile] = {}  # in the order they are looked at
        self.pending_total = 0

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[TailedFile]:
        return iter(list(self.files.values()))

    def get(self, identity: FileIdentity) -> TailedFile | None:
        return self.files.get(identity)

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
        """Files at their end and quiet since before `settled_before` rest from now on."""
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


def nothing_unread(tailed: TailedFile) -> bool:
    """Whether `tailed` may give its descriptor up now: still linked, nothing written since its
    last read (a deleted file's descriptor is the last way to its lines)."""
    status = os.fstat(tailed.fd)
    return status.st_nlink > 0 and tailed.unchanged(status)

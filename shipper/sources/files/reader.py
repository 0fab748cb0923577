"""A tailed file: its life cycle (`TailedFile.state`), and reading complete lines from it by offset.

The offset only moves past bytes that ended a line (or were split off a line longer than the
limit), so a line still being written is read again whole on the next call and a checkpoint never
points into the middle of a line.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import Any

from shipper.sources.files.formats import Decoder
from shipper.sources.files.identity import FINGERPRINT_BYTES, FileIdentity, Fingerprint
from shipper.text import utf8_boundary

ROTATE_WAIT = 5.0  # seconds a renamed file stays open for a writer's last lines


@dataclass(slots=True)
class Lines:
    texts: list[str]
    end_offset: int  # where the next read starts once these lines are committed
    bytes_read: int
    invalid_utf8: int = 0  # lines that had bytes replaced by U+FFFD
    split: int = 0  # pieces cut off lines longer than the limit


class FileState(enum.Enum):
    READING = "reading"  # its path names it; lines may be waiting
    AT_EOF = "at_eof"  # its path names it; everything written so far is read
    ROTATED = "rotated"  # renamed away or deleted: its writer may still finish, then it is drained
    DORMANT = "dormant"  # at EOF, its descriptor given up (idle, or wanted by another file): looked at by path
    CLOSED = "closed"  # read to its end (or excluded) and its descriptor closed


@dataclass(slots=True)
class TailedFile:
    """An open file and where the source is in it. Its life cycle is the rotation rules': a file is
    followed while its path names it (READING <-> AT_EOF), drained once the path moves on (ROTATED:
    lines its writer adds within ROTATE_WAIT are still read, a last line without newline is taken once
    the writer is gone), and CLOSED when read to its end. A file renamed to a name still included is
    followed again. Only the methods below change the state."""

    path: str
    fd: int
    identity: FileIdentity
    offset: int  # where the next read starts
    fingerprint: Fingerprint
    decoder: Decoder
    rotated_at: float | None = None  # when the path stopped naming this file
    at_eof: bool = False
    checkpointed: int = 0  # the offset in the last checkpoint committed (`offset` may be ahead, not yet committed)
    mtime_ns: int = 0  # at the last read: a change with the same size may be a rewrite after truncation
    size_seen: int = 0  # the file's size at the last read
    links: int = 1  # its link count at the last read: 0 once its last name is deleted
    common: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # the path it was opened at, naming it in the per-file metrics
    directory: str = ""  # the directory the file really lives in (resolved once, at open)
    closed: bool = False
    quiet_since: float | None = None  # monotonic time of the first of the looks in a row that found nothing new
    pending: int = 0  # bytes of incomplete records its decoder held at the last count (table.py)
    multiline: Any = None  # the multiline options its decoder groups by (None: it does not group)
    leftovers: list[Any] = field(default_factory=list)  # records to ship before the next read's (restored groups)

    def __post_init__(self) -> None:
        self.label = self.label or self.path
        self.directory = self.directory or os.path.dirname(os.path.realpath(self.path))
        self.checkpointed = self.offset

    @property
    def state(self) -> FileState:
        if self.closed:
            return FileState.CLOSED
        if self.fd < 0:
            return FileState.DORMANT
        if self.rotated_at is not None:
            return FileState.ROTATED
        return FileState.AT_EOF if self.at_eof else FileState.READING

    # -- transitions --------------------------------------------------------------------------------

    def path_moved_away(self, now: float) -> None:
        """The path no longer leads here (renamed away, or deleted): drain it. Lines may have come
        since the last read, so it is read again before its successor."""
        if self.rotated_at is None:
            self.rotated_at = now
            self.at_eof = False

    def found_deleted(self, now: float) -> None:
        """Its last name is gone (seen between scans): drain it from where the last read stopped."""
        if self.rotated_at is None:
            self.rotated_at = now

    def writer_long_gone(self, now: float, idle_for: float) -> None:
        """Rotated while the agent was stopped: its writer finished long ago, when it last wrote
        (`idle_for` seconds ago, from its mtime). That moment orders it among the other files of its
        path: of two files rotated while stopped, the one written to last is the newer."""
        self.rotated_at = now - max(ROTATE_WAIT, idle_for)

    def renamed_to(self, path: str, common: dict[str, Any]) -> None:
        """Found again under an included name (a rename, or a rotation undone): followed again."""
        self.path, self.common, self.rotated_at = path, common, None

    def looked_at(self, status: os.stat_result) -> tuple[int, bool]:
        """Take in what fstat says now; returns the size seen at the last look, and whether the file
        was modified since (a change of the same size may be a rewrite after truncation)."""
        size_before, modified = self.size_seen, status.st_mtime_ns != self.mtime_ns
        self.mtime_ns, self.size_seen, self.links = status.st_mtime_ns, status.st_size, status.st_nlink
        return size_before, modified

    def unchanged(self, status: os.stat_result) -> bool:
        """Whether `status` shows the file as its last read left it (same size and modification time)."""
        return (status.st_size, status.st_mtime_ns) == (self.size_seen, self.mtime_ns)

    def shares(self, common: dict[str, Any]) -> None:
        """What every record of the file carries from now on (metadata learned later)."""
        self.common = common

    def caught_up(self) -> None:
        """Nothing new at the last look."""
        self.at_eof = True

    def read_to(self, offset: int) -> None:
        """Records up to `offset` are taken (to be committed with the checkpoint after them)."""
        self.offset = offset

    def committed(self, offset: int) -> None:
        """Records up to `offset` and the checkpoint after them are in the spool."""
        self.checkpointed = offset

    def truncated(self) -> None:
        """Shorter than what was read, or rewritten (copytruncate): read again from the start."""
        self.offset = 0
        self.fingerprint = Fingerprint.read(self.fd)

    def writer_gone(self, now: float) -> bool:
        """No more lines will come: the file is deleted, or it was rotated ROTATE_WAIT ago."""
        return self.deleted() or (self.rotated_at is not None and now - self.rotated_at >= ROTATE_WAIT)

    def deleted(self) -> bool:
        """Its last name is gone (a dormant file, without a descriptor, is looked at by path instead)."""
        return self.fd >= 0 and os.fstat(self.fd).st_nlink == 0

    # -- reading ------------------------------------------------------------------------------------

    def read_lines(self, block_size: int, max_line: int, final: bool = False) -> Lines | None:
        """Complete lines from `offset`; with `final`, a trailing line without newline counts too."""
        data = os.pread(self.fd, max(block_size, max_line + 1), self.offset)
        if not data:
            self.at_eof = True
            return None
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > max_line:
                piece = data[: utf8_boundary(data, max_line)]
                return _decode([piece], self.offset + len(piece), split=1)
            if final:
                return _decode([data], self.offset + len(data))
            self.at_eof = True
            return None
        self.at_eof = cut + 1 == len(data) and len(data) < block_size
        chunk = data[:cut]
        if chunk.isascii():  # the common case: decoded and split once; a character is a byte
            texts = chunk.decode("ascii").split("\n")
            if cut <= max_line or max(map(len, texts)) <= max_line:
                return Lines(texts, self.offset + cut + 1, cut + 1)
        lines = chunk.split(b"\n")
        split = 0
        if cut > max_line and max(map(len, lines)) > max_line:
            lines, split = _split_long(lines, max_line)
        return _decode(lines, self.offset + cut + 1, split=split)

    def refresh_fingerprint(self) -> None:
        if self.fingerprint.length < FINGERPRINT_BYTES and self.fd >= 0:
            self.fingerprint = Fingerprint.read(self.fd)

    def give_up_descriptor(self) -> None:
        """At EOF, its path still naming it: close the descriptor, keep everything else (DORMANT).
        Its identity, fingerprint, offset and decoder stay, so it is reopened exactly where it was."""
        os.close(self.fd)
        self.fd = -1

    def reopened(self, fd: int) -> None:
        """A descriptor again, on the same file (checked by the caller): read it for what is new."""
        self.fd, self.at_eof = fd, False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.fd >= 0:
                os.close(self.fd)


def _decode(lines: list[bytes], end_offset: int, split: int = 0) -> Lines:
    joined = b"\n".join(lines)
    size = len(joined) + 1
    try:
        return Lines(joined.decode("utf-8").split("\n"), end_offset, size, split=split)
    except UnicodeDecodeError:
        texts, invalid = [], 0
        for line in lines:
            try:
                texts.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(line.decode("utf-8", "replace"))
                invalid += 1
        return Lines(texts, end_offset, size, invalid_utf8=invalid, split=split)


def _split_long(lines: list[bytes], max_line: int) -> tuple[list[bytes], int]:
    out: list[bytes] = []
    split = 0
    for line in lines:
        while len(line) > max_line:
            cut = utf8_boundary(line, max_line)
            out.append(line[:cut])
            line = line[cut:]
            split += 1
        out.append(line)
    return out, split

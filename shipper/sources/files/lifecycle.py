"""A tailed file's life in the file source, from a descriptor to its close: opened when found (or when
a descriptor comes free), started at its checkpoint (or per `read_from`), given its decoder and its
fields, reopened when dormant, finished first when it was rotated while the agent was stopped, and
closed once the commit that forgets its checkpoint is made. `FileSource` (source.py) builds on it
with the scan -> read -> commit loop.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from dataclasses import replace
from typing import Any

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.record import Block, Record
from shipper.sources.base import Reads, Source
from shipper.sources.files.checkpoint import FileCheckpoint
from shipper.sources.files.config import FileOptions, MultilineOptions, TailOptions
from shipper.sources.files.descriptors import Descriptors, Waiting, max_open_files, out_of_descriptors
from shipper.sources.files.exceptions import ExceptionsDecoder
from shipper.sources.files.formats import Decoder, JsonDecoder, PlainDecoder
from shipper.sources.files.identity import FileIdentity, Fingerprint
from shipper.sources.files.kind import FileKind
from shipper.sources.files.multiline import GroupingDecoder, PatternDecoder, restored
from shipper.sources.files.reader import TailedFile
from shipper.sources.files.recovery import find_by_identity, find_rotated
from shipper.sources.files.table import FileTable
from shipper.templates import field_path
from shipper.times import time_parser

SHARE_LOOP_EVERY = 0.05  # seconds a source may hold the event loop before other tasks get a turn
SAY_AGAIN_AFTER = 60.0  # seconds between repeats of a warning about the same condition


class FileLifecycle(Source):
    options: TailOptions

    def __init__(self, source_id: str, options: TailOptions, spool: Spool, hostname: str):
        super().__init__(source_id, options, spool, hostname)
        self.kind = FileKind()  # the plain kind; the container source puts its own in its place
        self._checkpoints: dict[str, FileCheckpoint] = {}
        self._skipped: set[tuple[str, str]] = set()
        self._shared_at = 0.0  # when other tasks last had the event loop (see _share_the_loop)
        most, lowered = max_open_files(options.max_open_files)
        if lowered:
            self.log.warning("%s", lowered)
        self.descriptors = Descriptors(most)
        self.table = FileTable(self.descriptors)
        self._to_recover: dict[str, FileCheckpoint] | None = None  # rotated while stopped, not found yet
        self._out_of_descriptors_said = -SAY_AGAIN_AFTER
        self._waiting_gauge = metrics.files_waiting.labels(*self.labels)
        self._reads = Reads(options.read_block_size)  # reads of this round not committed yet

    async def _share_the_loop(self) -> None:
        """Let the sinks and the API run after a while of reading or opening: spool appends of a
        source never wait, so 100,000 small files would otherwise hold the event loop for minutes."""
        if time.monotonic() - self._shared_at >= SHARE_LOOP_EVERY:
            await asyncio.sleep(0)
            self._shared_at = time.monotonic()

    @property
    def files(self) -> dict[FileIdentity, TailedFile]:
        """Every file followed, by identity (the table's: read it, never change it)."""
        return self.table.files

    def _recover_rotated_while_stopped(self) -> None:
        """Finish files that were rotated while the agent was not running (found as recovery.py says);
        a file that is gone entirely is reported: its unread bytes were rotated away. Out of descriptors,
        the rest are looked for at the next scan."""
        if not self._to_recover:
            return
        followed = {identity.key for identity in self.files}
        for key, checkpoint in list(self._to_recover.items()):
            if key in followed:
                del self._to_recover[key]
                continue
            if not self.kind.wanted(checkpoint.path):  # excluded since it was read (or imported): never read
                del self._to_recover[key]
                self._reads.add(None, {key: None})
                continue
            if not self.descriptors.free:
                return
            try:
                found = find_rotated(key, checkpoint)
            except OSError as error:  # out of descriptors: says nothing about the file
                self._out_of_descriptors(error, checkpoint.path)
                return
            del self._to_recover[key]
            if found is None:
                self.log.warning("%s was rotated away while shipper was stopped; bytes after offset %d, if any, "
                            "were not read", checkpoint.path, checkpoint.offset)
                self.count_error("rotation", "rotated_before_read")
                self._reads.add(None, {key: None})
                continue
            real_path, fd, identity = found
            decoder, multiline = self.decoder(checkpoint.path)
            decoder = restored(decoder, checkpoint.carry)
            tailed = TailedFile(checkpoint.path, fd, identity, checkpoint.offset, checkpoint.fingerprint, decoder,
                                common=self.common_fields(checkpoint.path), multiline=multiline)
            tailed.writer_long_gone(time.monotonic(), time.time() - os.fstat(fd).st_mtime)
            self.table.add(tailed)
            self._checkpoints[key] = replace(checkpoint, carry=None)  # the decoder holds it now
            self.log.info("finishing %s, rotated while stopped, from offset %d", real_path, checkpoint.offset,
                          extra={"file": real_path})

    def _open(self, path: str, identity: FileIdentity, status: os.stat_result, first: bool) -> bool:
        """Follow the file at `path`; False when out of descriptors (it waits for one)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if out_of_descriptors(error):
                self.descriptors.wait(path, identity, first)
                self._out_of_descriptors(error, path)
                return False
            self._skip(path, _reason(error), error.strerror)
            return True
        if FileIdentity.of(os.fstat(fd)) != identity:  # replaced between stat and open: next round
            os.close(fd)
            return True
        self._follow(path, fd, identity, status, first)
        return True

    def _follow(self, path: str, fd: int, identity: FileIdentity, status: os.stat_result, first: bool) -> TailedFile:
        decoder, multiline = self.decoder(path)
        offset, decoder = self._resume(identity, fd, status, first, decoder)
        tailed = TailedFile(path, fd, identity, offset, Fingerprint.read(fd), decoder, common=self.common_fields(path),
                            multiline=multiline)
        self.table.add(tailed)
        # checkpointed at once (with the reads of this round, before its own), so that a rotation while
        # the agent is down finds it
        opened = FileCheckpoint(path, offset, tailed.fingerprint, decoder.carry())
        self._reads.add(None, {identity.key: opened.encode()})
        self.log.info("tailing %s from offset %d", path, offset, extra={"file": path})
        return tailed

    async def _give_descriptors(self) -> None:
        await self.table.give_descriptors(self._serve, self._share_the_loop)
        self._waiting_gauge.set(len(self.descriptors.waiting))

    async def _serve(self, waiting: Waiting) -> bool:
        """A descriptor for a waiting file; False when out of descriptors (it keeps its place)."""
        tailed = self.files.get(waiting.identity)
        if tailed is not None:
            return await self._reopen(tailed)
        try:
            status: os.stat_result | None = os.stat(waiting.path)
        except OSError:
            status = None
        if status is not None and FileIdentity.of(status) == waiting.identity:
            if not self._open(waiting.path, waiting.identity, status, waiting.first):
                return False
        else:  # moved before it got a descriptor: look for it beside where its path leads
            try:
                found = find_by_identity(os.path.dirname(os.path.realpath(waiting.path)), waiting.identity.key, None)
            except OSError as error:
                self._out_of_descriptors(error, waiting.path)
                return False
            if found is None:
                self.log.warning("%s was rotated away before a descriptor was free to read it", waiting.path)
                self.count_error("rotation", "rotated_before_read")
            else:
                _, fd, identity = found
                self._follow(waiting.path, fd, identity, os.fstat(fd), waiting.first).path_moved_away(time.monotonic())
        self.descriptors.served(waiting.identity)
        return True

    async def _reopen(self, tailed: TailedFile) -> bool:
        """A dormant file's descriptor again: at its path if it is still there, else where it was moved
        to beside it (then it is drained as rotated); a file gone from both is forgotten."""
        try:
            found = _open_if(tailed.path, tailed.identity) or find_by_identity(
                tailed.directory, tailed.identity.key, tailed.fingerprint)
        except OSError as error:
            self._out_of_descriptors(error, tailed.path)
            return False
        self.descriptors.served(tailed.identity)
        if found is None:
            self.table.no_longer_dormant(tailed)
            self.log.info("%s is gone (moved away or deleted while idle and closed)", tailed.path,
                          extra={"file": tailed.path})
            await self._finish(tailed, "gone")
            return True
        path, fd, _ = found
        self.table.reopened(tailed, fd)
        if path != tailed.path:  # found beside its path under another name: rotated while dormant
            tailed.path_moved_away(time.monotonic())
        return True

    def _out_of_descriptors(self, error: OSError, path: str) -> None:
        """Counted every time, said once a minute; never taken for anything but a wait."""
        if not out_of_descriptors(error):
            raise error
        self.count_error("open", "out_of_descriptors")
        descriptors = self.descriptors
        descriptors.lowered()
        now = time.monotonic()
        if now - self._out_of_descriptors_said >= SAY_AGAIN_AFTER:
            self._out_of_descriptors_said = now
            self.log.warning("out of file descriptors (%s) opening %s; holding at most %d files open for now, "
                             "the others wait (lower max_open_files, or raise the limit on open files)",
                             error.strerror, path, descriptors.limit)

    def decoder(self, path: str) -> tuple[Decoder, MultilineOptions | None]:
        """A fresh decoder for the file at `path`, grouping multi-line records as configured (or as its
        pod's annotations say), and the multiline options it groups by."""
        multiline = self.kind.multiline(path, self.options.multiline)
        return self.grouping(self.line_decoder(), multiline), multiline

    def grouping(self, lines: Decoder, multiline: MultilineOptions | None) -> Decoder:
        """`lines` grouped by `multiline` (unchanged for None)."""
        if multiline is None:
            return lines
        max_bytes = multiline.max_bytes or self.options.max_line_size
        if multiline.mode == "exceptions":
            return ExceptionsDecoder(lines, multiline.languages, multiline.timeout, max_bytes, multiline.max_lines)
        assert multiline.start_pattern is not None  # the options' validator holds it
        return PatternDecoder(lines, multiline.start_pattern, multiline.timeout, max_bytes, multiline.max_lines)

    def line_decoder(self) -> Decoder:
        """A fresh line decoder for one file (the container source detects CRI or docker per file)."""
        decoder = self.kind.line_decoder(self.options.max_line_size)
        if decoder is not None:
            return decoder
        if isinstance(self.options, FileOptions) and self.options.format == "json":
            options = self.options
            time_path = field_path(options.time_key) if options.time_key else None
            return JsonDecoder(options.max_line_size, options.reserved_key, time_path,
                               time_parser(options.time_format) if time_path else None)
        return PlainDecoder(self.options.max_line_size)

    def common_fields(self, path: str) -> dict[str, Any]:
        """Fields every record of the file at `path` shares."""
        return {"file": path, "host": self.hostname, "source_type": self.type, **self.kind.fields(path)}

    def _resume(self, identity: FileIdentity, fd: int, status: os.stat_result, first: bool,
                decoder: Decoder) -> tuple[int, Decoder]:
        """The offset to start reading at, and the decoder given what it held at the checkpoint."""
        checkpoint = self._checkpoints.get(identity.key)
        if checkpoint is not None and checkpoint.fingerprint.matches(fd) and checkpoint.offset <= status.st_size:
            decoder = restored(decoder, checkpoint.carry)
            self._checkpoints[identity.key] = replace(checkpoint, carry=None)  # the decoder holds it now
            return checkpoint.offset, decoder
        if checkpoint is not None:
            self.log.info("inode of %s was reused by a new file; reading it from the start", checkpoint.path)
        if first and self.options.read_from == "end":
            return status.st_size, decoder
        return 0, decoder

    def regroup(self, tailed: TailedFile) -> list[Record]:
        """Group `tailed`'s lines as its kind now says (a pod's annotation set or changed); the groups
        its decoder held leave as they stand."""
        multiline = self.kind.multiline(tailed.label, self.options.multiline)
        if multiline is tailed.multiline or multiline == tailed.multiline:
            return []
        decoder = tailed.decoder
        held = decoder.release() if isinstance(decoder, GroupingDecoder) else []
        lines = decoder.inner if isinstance(decoder, GroupingDecoder) else decoder
        tailed.decoder, tailed.multiline = self.grouping(lines, multiline), multiline
        self.log.info("%s: lines grouped by %s from now on", tailed.label,
                      f"multiline {multiline.mode}" if multiline else "none", extra={"file": tailed.label})
        return held

    def _skip(self, path: str, reason: str, detail: str | None = None) -> None:
        """Count and report a path that cannot be read; it is tried again at every discovery."""
        if (path, reason) not in self._skipped:  # warn once, not once per discovery round
            self._skipped.add((path, reason))
            self.count_error("discover", reason)
            self.log.warning("skipping %s: %s%s", path, reason, f" ({detail})" if detail else "",
                             extra={"file": path})

    async def _finish(self, tailed: TailedFile, why: str) -> None:
        """Ship what the decoder holds, forget the checkpoint and close the file."""
        self._finishing(tailed, why)
        await self.commit_reads(self._reads)

    def _finishing(self, tailed: TailedFile, why: str) -> None:
        """As `_finish`, the file closed once the commit that forgets its checkpoint is made: until
        then its descriptor may be the last way to lines of this round."""
        self.log.info("finished %s (%s)", tailed.path, why, extra={"file": tailed.path})
        held = tailed.decoder.flush()  # fragments whose completing line will never come

        def finished() -> None:
            self.received_events.inc(len(held))
            self._close(tailed)

        self._reads.add(Block(self.id, tailed.common, held) if held else None, {tailed.identity.key: None},
                        where=tailed.path, then=finished)

    def _close(self, tailed: TailedFile) -> None:
        """Stop following `tailed`: its descriptor, its place in the table and its pending count go."""
        self.table.forget(tailed)
        self.kind.finished(tailed, self.files.values())


def _open_if(path: str, identity: FileIdentity) -> tuple[str, int, FileIdentity] | None:
    """(path, descriptor, identity) if `path` still leads to `identity`; out of descriptors raises."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if out_of_descriptors(error):
            raise
        return None
    if FileIdentity.of(os.fstat(fd)) != identity:
        os.close(fd)
        return None
    return path, fd, identity


def _reason(error: OSError) -> str:
    """`PermissionError` and its kin by name; a bare OSError by its errno (EMFILE: out of open files)."""
    name = type(error).__name__
    return errno.errorcode.get(error.errno or 0, name) if name == "OSError" else name

"""The `file` source: discovers files, follows them through rotation, commits lines with offsets.

Where a record enters: `_read` turns a block of complete lines into records and appends them to
the spool together with the file's checkpoint, in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import time
from dataclasses import replace
from typing import Any

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.record import Block, Record
from shipper.sources.base import Reads, Source
from shipper.sources.files.checkpoint import FileCheckpoint
from shipper.sources.files.config import FileOptions, TailOptions
from shipper.sources.files.descriptors import PROCESS, Descriptors, Waiting, max_open_files, out_of_descriptors
from shipper.sources.files.discover import Stopped, discover
from shipper.sources.files.formats import Decoder, JsonDecoder, PlainDecoder
from shipper.sources.files.identity import FileIdentity, Fingerprint
from shipper.sources.files.kind import FileKind
from shipper.sources.files.multiline import MultilineDecoder
from shipper.sources.files.reader import FileState, TailedFile
from shipper.sources.files.recovery import find_by_identity, find_rotated
from shipper.sources.files.table import FileTable, in_write_order
from shipper.sources.files.watcher import DirectoryWatcher, bases_exist, directories_of
from shipper.templates import field_path
from shipper.times import time_parser

SHARE_LOOP_EVERY = 0.05  # seconds a source may hold the event loop before other tasks get a turn
UNMATCHED_WARNING_INTERVAL = 60.0  # seconds between warnings that an include pattern matches nothing


class FileSource(Source):
    options: TailOptions  # FileOptions; KubernetesLogsOptions for the container source built on it

    def __init__(self, source_id: str, options: TailOptions, spool: Spool, hostname: str):
        super().__init__(source_id, options, spool, hostname)
        self.kind = FileKind()  # the plain kind; the container source puts its own in its place
        self._checkpoints: dict[str, FileCheckpoint] = {}
        self._skipped: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()  # set by stop() and by the watcher
        self._scan_now = False  # a watched directory changed: scan before the discovery interval ends
        self._shared_at = 0.0  # when other tasks last had the event loop (see _share_the_loop)
        self._unmatched_warned: dict[str, float] = {}  # include pattern -> when it was last said to match nothing
        most, lowered = max_open_files(options.max_open_files)
        if lowered:
            self.log.warning("%s", lowered)
        self.descriptors = Descriptors(most)
        self.table = FileTable(self.descriptors)
        self._to_recover: dict[str, FileCheckpoint] | None = None  # rotated while stopped, not found yet
        self._out_of_descriptors_said = -UNMATCHED_WARNING_INTERVAL
        self._waiting_gauge = metrics.files_waiting.labels(*self.labels)
        self._reads = Reads(options.read_block_size)  # reads of this round not committed yet
        self.scans = 0  # scans finished (discovery rounds): tests wait for them

    async def run(self) -> None:
        await self.kind.start()
        try:
            await self._tail()
        finally:
            self.kind.stop()

    async def _tail(self) -> None:
        self._reads = Reads(self.options.read_block_size)  # what a failed run had read is read again
        self._checkpoints = {
            key: FileCheckpoint.decode(value) for key, value in self.spool.checkpoints(self.id).items()
        }
        watcher = DirectoryWatcher(self._directory_changed, lambda: self.count_error("discover", "watch_failed"))
        watcher.start()
        metrics.tailed_files.track(self.id, self.type, self._progress)
        first = True
        next_scan = next_look_at_resting = 0.0
        try:
            while not self.stopping.is_set():
                if self._scan_now or time.monotonic() >= next_scan:
                    self._scan_now = False
                    await self._discover(first)
                    if watcher.watch(directories_of(self.options.include, self.file_directories()),
                                     bases_exist(self.options.include)):
                        self._scan_now = True  # files may have come into a new directory before its watch
                    first = False
                    await self.commit_reads(self._reads)
                    self.scans += 1
                    await self._keep_pending_within_budget()
                    next_scan = time.monotonic() + self._scan_interval(watcher)
                if time.monotonic() >= next_look_at_resting:  # this round looks at every file
                    now = time.monotonic()
                    self.table.close_inactive(now - self.options.close_inactive)
                    self.table.rest_quiet(now - QUIET_ROUNDS * self.options.discover_interval)
                    self.table.look_at_dormant()
                    next_look_at_resting = time.monotonic() + self.options.discover_interval
                    looked_at = self.table.open_files()
                else:
                    looked_at = self.table.awake()
                progressed = False
                for tailed in in_write_order(looked_at):
                    if self.stopping.is_set() or self._scan_now or time.monotonic() >= next_scan:
                        break  # a busy round must not delay finding new files (they may rotate soon)
                    progressed |= await self._read(tailed)
                    await self._keep_pending_within_budget()
                    await self._share_the_loop()
                await self._close_finished(looked_at)
                await self._give_descriptors()
                if self.options.multiline is not None:
                    await self._ship_quiet_groups()
                await self.commit_reads(self._reads)
                if not progressed:
                    await self._idle(min(next_look_at_resting, next_scan))
            await self._drain_deleted()
        finally:
            metrics.tailed_files.untrack(self.id, self.type, self._progress)
            await watcher.close()
            self.table.close_all()

    @property
    def files(self) -> dict[FileIdentity, TailedFile]:
        """Every file followed, by identity (the table's: read it, never change it)."""
        return self.table.files

    def _scan_interval(self, watcher: DirectoryWatcher) -> float:
        """Until the next periodic scan: rare while inotify reports every change (see watcher.py)."""
        every = self.options.discover_interval
        return max(every, self.options.rescan_interval) if watcher.complete else every

    def _progress(self) -> list[metrics.FileProgress]:
        return [(t.label, t.offset, t.size_seen, t.fd >= 0) for t in self.files.values()]

    def stop(self) -> None:
        super().stop()
        self._wake.set()

    def _directory_changed(self) -> None:
        self._scan_now = True
        self._wake.set()

    async def _idle(self, next_round: float) -> None:
        """Wait for the poll interval (or, while every file rests, until `next_round` looks at them), a
        stop, or a change in a watched directory."""
        timeout = self.options.poll_interval
        if self.options.multiline is None and not self.table.awake():
            timeout = max(timeout, next_round - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    def file_directories(self) -> set[str]:
        """Where the open files really live (behind symlinks): rotation happens there."""
        return {tailed.directory for tailed in self.files.values()}

    # -- discovery -----------------------------------------------------------------------------

    async def _share_the_loop(self) -> None:
        """Let the sinks and the API run after a while of reading or opening: spool appends of a
        source never wait, so 100,000 small files would otherwise hold the event loop for minutes."""
        if time.monotonic() - self._shared_at >= SHARE_LOOP_EVERY:
            await asyncio.sleep(0)
            self._shared_at = time.monotonic()

    async def _discover(self, first: bool) -> None:
        seen: set[FileIdentity] = set()
        new: list[tuple[str, FileIdentity, os.stat_result]] = []
        unmatched: list[str] = []
        try:
            paths = await asyncio.to_thread(discover, self.options.include, self.options.exclude,
                                            self.stopping.is_set, unmatched)
        except Stopped:
            return
        self._warn_unmatched(unmatched)
        for path in paths:
            await self._share_the_loop()
            try:
                status = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(status.st_mode):
                self._skip(path, "not_regular_file")
                continue
            identity = FileIdentity.of(status)
            if not self.kind.wanted(path):
                self._drop_excluded(identity)
                continue
            seen.add(identity)
            tailed = self.files.get(identity)
            if tailed is None:
                new.append((path, identity, status))
                continue
            if tailed.path != path or tailed.rotated_at is not None:  # renamed to a name still included
                tailed.renamed_to(path, self.common_fields(path))
            if tailed.fd < 0 and not tailed.unchanged(status):
                self.descriptors.wait(path, identity)  # a dormant file changed
        now = time.monotonic()
        for identity, tailed in self.files.items():
            if identity not in seen and not self._still_there(tailed):  # renamed away, or deleted
                tailed.path_moved_away(now)
                if tailed.fd < 0:
                    self.descriptors.wait(tailed.path, identity)  # reopened by identity, and drained
        for path, identity, status in new:  # after the files they may replace: those are read first
            if self.descriptors.free and not self.descriptors.waiting:
                self._open(path, identity, status, first)
            else:
                self.descriptors.wait(path, identity, first)  # served in turn
        if first:
            waiting = {identity.key for identity in self.descriptors.waiting}
            self._to_recover = {key: checkpoint for key, checkpoint in self._checkpoints.items()
                                if key not in waiting}
        self._recover_rotated_while_stopped()
        await self._give_descriptors()

    @staticmethod
    def _still_there(tailed: TailedFile) -> bool:
        """Whether the path still leads to `tailed` although the scan did not list it: a directory that
        could not be listed (out of descriptors, say) must never make files look rotated."""
        try:
            return FileIdentity.of(os.stat(tailed.path)) == tailed.identity
        except OSError:
            return False

    def _warn_unmatched(self, patterns: list[str]) -> None:
        """An include pattern that matches nothing is said once a minute, not at every scan."""
        now = time.monotonic()
        for pattern in patterns:
            if now - self._unmatched_warned.get(pattern, -UNMATCHED_WARNING_INTERVAL) >= UNMATCHED_WARNING_INTERVAL:
                self._unmatched_warned[pattern] = now
                self.log.warning("%s matches no file (yet)", pattern)

    def _drop_excluded(self, identity: FileIdentity) -> None:
        """A file open before a filter excluded it (metadata learned later): stop reading it now."""
        tailed = self.files.get(identity)
        if tailed is not None:
            self.log.info("no longer reading %s: excluded by the source's filters", tailed.path,
                          extra={"file": tailed.path})
            self._close(tailed)

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
            decoder = self.decoder()
            decoder.restore(checkpoint.carry)
            tailed = TailedFile(checkpoint.path, fd, identity, checkpoint.offset, checkpoint.fingerprint, decoder,
                                common=self.common_fields(checkpoint.path))
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
        decoder = self.decoder()
        offset = self._resume(identity, fd, status, first, decoder)
        tailed = TailedFile(path, fd, identity, offset, Fingerprint.read(fd), decoder, common=self.common_fields(path))
        self.table.add(tailed)
        # checkpointed at once (with the reads of this round, before its own), so that a rotation while
        # the agent is down finds it
        opened = FileCheckpoint(path, offset, tailed.fingerprint, decoder.carry())
        self._reads.add(None, {identity.key: opened.encode()})
        self.log.info("tailing %s from offset %d", path, offset, extra={"file": path})
        return tailed

    # -- descriptors (see descriptors.py) ------------------------------------------------------

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
        PROCESS.refresh()
        descriptors.limit = max(8, min(descriptors.limit, descriptors.open))  # idle files make room from now on
        now = time.monotonic()
        if now - self._out_of_descriptors_said >= UNMATCHED_WARNING_INTERVAL:
            self._out_of_descriptors_said = now
            self.log.warning("out of file descriptors (%s) opening %s; holding at most %d files open from now on, "
                             "the others wait (lower max_open_files, or raise the limit on open files)",
                             error.strerror, path, descriptors.limit)

    def decoder(self) -> Decoder:
        """A fresh decoder for one file, grouping multi-line records when configured."""
        lines = self.line_decoder()
        multiline = self.options.multiline
        if multiline is None:
            return lines
        return MultilineDecoder(lines, multiline.start_pattern, multiline.timeout, self.options.max_line_size)

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

    def _resume(self, identity: FileIdentity, fd: int, status: os.stat_result, first: bool, decoder: Decoder) -> int:
        """The offset to start reading at, with the decoder given what it held at the checkpoint."""
        checkpoint = self._checkpoints.get(identity.key)
        if checkpoint is not None and checkpoint.fingerprint.matches(fd) and checkpoint.offset <= status.st_size:
            decoder.restore(checkpoint.carry)
            self._checkpoints[identity.key] = replace(checkpoint, carry=None)  # the decoder holds it now
            return checkpoint.offset
        if checkpoint is not None:
            self.log.info("inode of %s was reused by a new file; reading it from the start", checkpoint.path)
        if first and self.options.read_from == "end":
            return status.st_size
        return 0

    def _skip(self, path: str, reason: str, detail: str | None = None) -> None:
        """Count and report a path that cannot be read; it is tried again at every discovery."""
        if (path, reason) not in self._skipped:  # warn once, not once per discovery round
            self._skipped.add((path, reason))
            self.count_error("discover", reason)
            self.log.warning("skipping %s: %s%s", path, reason, f" ({detail})" if detail else "",
                             extra={"file": path})

    # -- reading -------------------------------------------------------------------------------

    async def _read(self, tailed: TailedFile) -> bool:
        """Commit one block of lines from `tailed`; False when there was nothing new."""
        status = os.fstat(tailed.fd)
        size = status.st_size
        size_seen, modified = tailed.looked_at(status)
        if size == tailed.offset and not modified and tailed.state is not FileState.ROTATED:
            tailed.caught_up()
            self.table.quiet(tailed, time.monotonic())
            return False
        self.table.stirred(tailed)
        held: list[Record] = []
        if size < tailed.offset or (modified and not tailed.fingerprint.matches(tailed.fd)):
            # copytruncate: shorter than what was read, or already rewritten past it with other first bytes
            self.log.warning("%s was truncated (size %d, offset %d); reading it from the start",
                        tailed.path, size, tailed.offset)
            self.count_anomaly("truncated")
            if size_seen > tailed.offset:  # seen in the file, gone with the truncation before it was read
                metrics.bytes_rotated_away.labels(*self.labels).inc(size_seen - tailed.offset)
            held = tailed.decoder.flush()  # fragments whose completing line went with the truncation
            tailed.truncated()
        final = tailed.state is FileState.ROTATED and tailed.writer_gone(time.monotonic())
        lines = tailed.read_lines(self.options.read_block_size, self.options.max_line_size, final=final)
        if lines is None:
            if tailed.offset != tailed.checkpointed:  # truncated: checkpoint the new start
                await self._commit(tailed, held, tailed.offset)
            return bool(held)
        decoder = tailed.decoder
        splits_before = decoder.split
        records = decoder.decode(lines.texts, time.time_ns())
        await self._commit(tailed, held + records if held else records, lines.end_offset)
        self.received_bytes.inc(lines.bytes_read)
        splits = lines.split + decoder.split - splits_before
        for kind, count in (("invalid_utf8", lines.invalid_utf8), ("split_long_line", splits),
                            ("malformed", decoder.malformed), ("time_unparsed", decoder.untimed)):
            if count:
                self.count_anomaly(kind, count)
        return True

    async def _commit(self, tailed: TailedFile, records: list[Record], end_offset: int) -> None:
        """Records and the checkpoint after them, in one spool transaction: this round's reads share
        it (committed at the end of the round, or sooner once they hold `read_block_size` bytes)."""
        if self.kind.learned(tailed):
            tailed.shares(self.common_fields(tailed.label))
        tailed.refresh_fingerprint()
        checkpoint = FileCheckpoint(tailed.path, end_offset, tailed.fingerprint, tailed.decoder.carry())
        block = Block(self.id, tailed.common, records) if records else None

        def committed() -> None:
            tailed.committed(end_offset)
            self.received_events.inc(len(records))
            self.kind.committed(tailed, len(records))

        self._reads.add(block, {tailed.identity.key: checkpoint.encode()}, max(0, end_offset - tailed.offset),
                        f"{tailed.path} before offset {end_offset}", committed)
        tailed.read_to(end_offset)
        self.table.track_pending(tailed)
        if self._reads.full():
            await self.commit_reads(self._reads)

    async def _keep_pending_within_budget(self) -> None:
        """Memory is bounded per source, whatever the files hold: over `max_pending_bytes` of incomplete
        records (fragments without their end, multi-line groups that never close, carries restored at
        start), the file holding the oldest ships what it holds as it stands, counted, never dropped."""
        while self.table.pending_total > self.options.max_pending_bytes:
            oldest = self.table.oldest_pending()
            records = oldest.decoder.flush()
            self.count_anomaly("pending_flushed", len(records))
            await self._commit(oldest, records, oldest.offset)

    async def _ship_quiet_groups(self) -> None:
        """Commit multi-line groups that no further line has joined within the timeout."""
        now = time.monotonic()
        for tailed in list(self.files.values()):
            decoder = tailed.decoder
            assert isinstance(decoder, MultilineDecoder)
            records = decoder.expired(now)
            if records:
                await self._commit(tailed, records, tailed.offset)

    async def _close_finished(self, files: list[TailedFile]) -> None:
        """Of `files` (this round's), close those rotated and read to their end once the writer has had
        time to finish."""
        now = time.monotonic()
        for tailed in files:
            if tailed.closed:  # finished or dropped earlier this round
                continue
            deleted = tailed.links == 0  # as this round's read saw it (one fstat per file and round)
            if deleted:
                tailed.found_deleted(now)
            if tailed.state is not FileState.ROTATED or not tailed.at_eof or not tailed.writer_gone(now):
                continue
            if tailed.read_lines(self.options.read_block_size, self.options.max_line_size, final=True):
                continue  # bytes arrived after the last read: the next round commits them first
            self._finishing(tailed, "deleted" if deleted else "rotated")
        await self.commit_reads(self._reads)  # then the finished files are closed

    async def _drain_deleted(self) -> None:
        """On stop, a deleted file's descriptor is the last way to its lines: read them all first."""
        for tailed in list(self.files.values()):
            if tailed.deleted():
                tailed.found_deleted(time.monotonic())
                while await self._read(tailed):
                    pass
                await self._finish(tailed, "deleted")

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


QUIET_ROUNDS = 5  # discover intervals with nothing new after which a file rests (table.py)


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

"""The `file` source: discovers files, follows them through rotation, commits lines with offsets.

Where a record enters: `_read` turns a block of complete lines into records and appends them to
the spool together with the file's checkpoint, in one transaction. The loop is scan -> read ->
commit; how a file is opened, resumed, given a descriptor and closed is lifecycle.py's, and where
each followed file stands is table.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.record import Block, Record
from shipper.sources.base import Reads
from shipper.sources.files.checkpoint import FileCheckpoint
from shipper.sources.files.config import TailOptions
from shipper.sources.files.discover import Stopped, discover
from shipper.sources.files.identity import FileIdentity
from shipper.sources.files.lifecycle import SAY_AGAIN_AFTER, FileLifecycle
from shipper.sources.files.multiline import GroupingDecoder
from shipper.sources.files.reader import FileState, TailedFile
from shipper.sources.files.table import in_write_order
from shipper.sources.files.watcher import DirectoryWatcher, bases_exist, directories_of


class FileSource(FileLifecycle):
    options: TailOptions  # FileOptions; KubernetesLogsOptions for the container source built on it

    def __init__(self, source_id: str, options: TailOptions, spool: Spool, hostname: str):
        super().__init__(source_id, options, spool, hostname)
        self._wake = asyncio.Event()  # set by stop() and by the watcher
        self._scan_now = False  # a watched directory changed: scan before the discovery interval ends
        self._unmatched_warned: dict[str, float] = {}  # include pattern -> when it was last said to match nothing
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
                if self.options.multiline is not None or self.kind.groups:
                    await self._ship_quiet_groups()
                await self.commit_reads(self._reads)
                if not progressed:
                    await self._idle(min(next_look_at_resting, next_scan))
            await self._drain_deleted()
        finally:
            metrics.tailed_files.untrack(self.id, self.type, self._progress)
            await watcher.close()
            self.table.close_all()

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
        if self.options.multiline is None and not self.kind.groups and not self.table.awake():
            timeout = max(timeout, next_round - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    def file_directories(self) -> set[str]:
        """Where the open files really live (behind symlinks): rotation happens there."""
        return {tailed.directory for tailed in self.files.values()}

    # -- discovery -----------------------------------------------------------------------------

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
            if now - self._unmatched_warned.get(pattern, -SAY_AGAIN_AFTER) >= SAY_AGAIN_AFTER:
                self._unmatched_warned[pattern] = now
                self.log.warning("%s matches no file (yet)", pattern)

    def _drop_excluded(self, identity: FileIdentity) -> None:
        """A file open before a filter excluded it (metadata learned later): stop reading it now."""
        tailed = self.files.get(identity)
        if tailed is not None:
            self.log.info("no longer reading %s: excluded by the source's filters", tailed.path,
                          extra={"file": tailed.path})
            self._close(tailed)

    # -- descriptors (see descriptors.py) ------------------------------------------------------

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
        held += self.regroup(tailed)  # as the pod's annotations say now, before these lines are grouped
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
        records = self.kind.records(tailed, records)
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
            if not isinstance(decoder, GroupingDecoder):
                continue
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

QUIET_ROUNDS = 5  # discover intervals with nothing new after which a file rests (table.py)

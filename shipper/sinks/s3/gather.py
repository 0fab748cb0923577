"""Records into objects: each partition's queue, the object it is gathering, and where objects are
cut.

An object is closed when its lines reach `max_object_bytes`, when its first record has waited
`max_object_age` (the engine's batch timeout), when the agent drains, or when the sink holds too much
in memory (its largest object goes early). An object recorded in the ledger before a restart is cut
exactly as recorded instead: it takes the partition's records from its first position to its last,
never fewer, whatever the time or the size.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections import deque
from collections.abc import Callable

from shipper.buffer.spool import Position, StoredBlock
from shipper.sinks.s3.key import Partition
from shipper.sinks.s3.objects import ObjectRow, S3Object


class ObjectQueue:
    """One partition: the object being gathered, objects closed and waiting to leave, and the ledger's
    rows of objects cut before a restart whose records are not all read again yet."""

    def __init__(self, partition: Partition):
        self.partition = partition
        self.open: S3Object | None = None
        self.closed: deque[S3Object] = deque()
        self.recovered: deque[ObjectRow] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def since(self) -> float | None:
        gathering = self.open
        return gathering.opened_at if gathering is not None and gathering.row is None else None

    def waiting(self) -> bool:
        return bool(self.closed) or self.since is not None

    def full(self) -> bool:
        return bool(self.closed)

    def close_open(self) -> S3Object | None:
        """Close the object being gathered; it waits to leave."""
        gathering, self.open = self.open, None
        if gathering is not None:
            gathering.close()
            self.closed.append(gathering)
        return gathering


class Gatherer:
    """Puts a block's records into their partitions' objects."""

    def __init__(self, max_object_bytes: int, gzip: int | None, clock: Callable[[], float]):
        """`gzip`: the compression level (1-9) of the objects, None for none."""
        self.max_object_bytes = max_object_bytes
        self.gzip = gzip
        self.clock = clock
        self.held = 0  # bytes every object not yet delivered holds
        self.mismatched = 0  # ledger rows dropped because the records no longer fit them (config changed)

    def gather(self, queue: ObjectQueue, block: StoredBlock, lines: list[bytes | None], start: int, stop: int,
               segment: int) -> None:
        """Records `start` to `stop` of `block` (counted from `block.start`; `lines` their encodings, None for a
        record that could not be encoded), all of `queue`'s partition."""
        while start < stop:
            position = Position(block.id, block.start + start)
            self.passed(queue, position)
            gathering = queue.open or self._open(queue, position)
            if gathering.row is not None:
                end = self._recorded_end(gathering.row, block, stop)
            else:
                end = self._fitting(gathering, lines, start, stop)
            self._add(gathering, block, lines, start, end, segment)
            row = gathering.row
            if (gathering.raw >= self.max_object_bytes if row is None
                    else Position(block.id, block.start + end - 1) >= row.last):
                self._close(queue)
            start = end

    def passed(self, queue: ObjectQueue, end: Position) -> None:
        """Every record before `end` has been read: a recorded object whose last record is among them
        is whole (its last record may have been left out of the read: a record no longer routed here),
        and a recorded object none of whose records came back is no longer this partition's (the key
        changed since the row was written): its row is dropped and counted in `mismatched`."""
        gathering = queue.open
        if gathering is not None and gathering.row is not None and gathering.row.last < end:
            self._close(queue)
        while queue.recovered and queue.recovered[0].last < end:
            queue.recovered.popleft()
            self.mismatched += 1

    def close_largest(self, queues: list[ObjectQueue]) -> ObjectQueue | None:
        """Memory is short: the largest object being gathered (not one recorded before a restart) goes now."""
        gathering = [q for q in queues if q.open is not None and q.open.row is None and q.open.records]
        if not gathering:
            return None
        largest = max(gathering, key=lambda q: q.open.held if q.open is not None else 0)
        self._close(largest)
        return largest

    def close_due(self, queue: ObjectQueue) -> None:
        """The object being gathered has waited long enough, or the agent drains: it goes as it is."""
        if queue.open is not None and queue.open.row is None:
            self._close(queue)

    def _open(self, queue: ObjectQueue, position: Position) -> S3Object:
        row = None
        if queue.recovered:
            if queue.recovered[0].first <= position:
                row = queue.recovered.popleft()
            else:
                self.mismatched += len(queue.recovered)  # records before the recorded object: the routing changed
                queue.recovered.clear()
        queue.open = S3Object(queue.partition, self.gzip, self.clock(), row)
        return queue.open

    @staticmethod
    def _recorded_end(row: ObjectRow, block: StoredBlock, stop: int) -> int:
        """Where in the run (which starts at or before its last record) the recorded object ends: after
        its last record, or the run's end."""
        if row.last.block > block.id:
            return stop
        return min(stop, row.last.index - block.start + 1)

    def _fitting(self, gathering: S3Object, lines: list[bytes | None], start: int, stop: int) -> int:
        """The end of the records that go into `gathering`: all, or up to the one that brings it to
        `max_object_bytes` (at least one)."""
        room = self.max_object_bytes - gathering.raw
        sizes = [len(line) + 1 if line is not None else 0 for line in lines[start:stop]]
        totals = list(itertools.accumulate(sizes))
        if not totals or totals[-1] < room:
            return stop
        return start + bisect.bisect_left(totals, room) + 1

    def _add(self, gathering: S3Object, block: StoredBlock, lines: list[bytes | None], start: int, end: int,
             segment: int) -> None:
        kept = [line for line in lines[start:end] if line is not None]
        first, last = block.start + start, block.start + end - 1
        before = gathering.held
        gathering.add(kept, Position(block.id, first), Position(block.id, last),
                      (block.timestamps[first], block.timestamps[last]), segment, end - start)
        self.held += gathering.held - before

    def _close(self, queue: ObjectQueue) -> None:
        gathering = queue.open
        before = gathering.held if gathering is not None else 0
        closed = queue.close_open()
        if closed is not None:
            self.held += closed.held - before

"""The disk buffer: a SQLite database (WAL) of record blocks, source checkpoints and sink cursors.

Guarantees:
- A block of records and the checkpoint of the source that read it commit in one transaction.
- Each sink has a cursor `(block_id, index)`: every record before it has been acknowledged.
- A sink may keep state rows (e.g. batches in flight) that are forgotten in the same transaction as
  the acknowledgement that makes them useless.
- A block is deleted once the cursor of every sink taking its source has passed it.
- `append` waits while the spool holds `max_size` bytes or more: sources pause, nothing is dropped.
- A database that cannot be opened or fails its integrity check is moved aside, never fatal.
- A sink may *park* what it cannot deliver now, out of the way of its cursor: `parked_area`
  (parked.py).

Records are stored in columns (columns.py). The tables, their layout version and the conversion of
an older layout when it is opened are in layout.py; a spool of a newer layout is never opened.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from shipper.buffer import columns, database, layout, parked
from shipper.buffer.layout import SPOOL_FILE
from shipper.buffer.parked import ParkedSummary
from shipper.observe import metrics
from shipper.record import Block, Record

log = logging.getLogger(__name__)

class Position(NamedTuple):
    """A place in the spool: every record of blocks before `block`, and `index` records of it."""

    block: int
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing calls on a Position


@dataclass(slots=True)
class StoredBlock:
    """A block as a sink reads it: its records as parallel lists (see columns.py)."""

    id: int
    source: str
    common: dict[str, Any]
    timestamps: list[int]
    messages: list[str]
    fields: list[Any]  # records of a block share equal mappings: never change one in place
    start: int  # the first record not yet read by the sink that asked for it

    @property
    def records(self) -> list[Record]:
        """Every record of the block as (timestamp, message, fields) tuples."""
        return list(zip(self.timestamps, self.messages, self.fields, strict=True))

    def record(self, index: int) -> Record:
        return self.timestamps[index], self.messages[index], self.fields[index]

    def end(self) -> Position:
        """The position just after this block's last record."""
        return Position(self.id + 1, 0)


@dataclass(slots=True)
class Backlog:
    count: int  # records a sink has still to send
    bytes: int  # their stored size (the share of a half-read block counted by records)
    oldest: float | None  # when the oldest of them was stored; None when there is none


class _Queries:
    """Reads that the running spool and its read-only view share."""

    _db: sqlite3.Connection

    def checkpoints(self, source: str) -> dict[str, bytes]:
        rows = self._db.execute("SELECT key, value FROM checkpoints WHERE source = ?", (source,))
        return dict(rows.fetchall())

    def _backlog(self, cursor: Position, sources: Iterable[str]) -> Backlog:
        """What waits after `cursor` in the blocks of `sources` (from the database: not for hot paths)."""
        sources = tuple(sources)
        count, size, oldest = self._db.execute(
            "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(bytes), 0), MIN(created) FROM blocks "
            f"WHERE id >= ? AND source IN ({_marks(sources)})", (cursor.block, *sources)).fetchone()
        if cursor.index:  # the records of the cursor's block that were already sent
            row = self._db.execute(
                f"SELECT count, bytes FROM blocks WHERE id = ? AND source IN ({_marks(sources)})",
                (cursor.block, *sources)).fetchone()
            if row:
                sent = min(cursor.index, row[0])
                count -= sent
                size -= row[1] * sent // max(row[0], 1)
        return Backlog(count, size, oldest if count else None)



class SpoolView(_Queries):
    """A read-only look at a spool that a running agent may be writing (`shipper status`): SQLite's
    read-only mode, so it never writes, never takes the write lock and never converts an old layout."""

    def __init__(self, connection: sqlite3.Connection):
        self._db = connection

    @classmethod
    def open(cls, data_dir: str | Path) -> SpoolView | None:
        """The view of the spool in `data_dir`; None when there is no spool there."""
        path = Path(data_dir) / SPOOL_FILE
        if not path.exists():
            return None
        return cls(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5))

    def close(self) -> None:
        self._db.close()

    def backlog(self, sink: str, sources: Iterable[str]) -> Backlog:
        """What `sink`, taking `sources`, has still to send, from its stored cursor (none: everything)."""
        row = self._db.execute("SELECT block, position FROM cursors WHERE sink = ?", (sink,)).fetchone()
        return self._backlog(Position(*row) if row else Position(0, 0), sources)

    def parked_sinks(self) -> list[str]:
        return parked.sinks(self._db)

    def parked(self, sink: str) -> dict[str, ParkedSummary]:
        """What `sink` has parked, by name."""
        return parked.summary(self._db, sink)


class Spool(_Queries):
    def __init__(self, connection: sqlite3.Connection, path: Path, max_size: int):
        self._db = connection
        self.path = path
        self.max_size = max_size
        self._sink_sources: dict[str, frozenset[str]] = {}
        self._cursors: dict[str, Position] = {}
        self._appended = asyncio.Event()
        self._freed = asyncio.Event()
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'blocks'").fetchone()
        self._last_block_id: int = row[0] if row else 0
        self.parked_area = parked.ParkedArea(connection, self._forget, self.cursor)
        self._recount()

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: str | Path, max_size: int) -> Spool:
        """Open (or create) the spool in `data_dir`; a corrupt file is moved aside and replaced."""
        directory = Path(data_dir)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / SPOOL_FILE
        try:
            connection = database.connect(path)
        except sqlite3.DatabaseError as error:
            if not database.is_corruption(error):  # a full or read-only disk: the spool is fine, only unreachable
                raise SpoolUnavailable(f"cannot open the spool {path}: {error}") from error
            aside = database.move_aside(path)
            metrics.spool_corrupt.inc()
            log.error("spool %s is corrupt (%s); moved it to %s and starting with an empty spool", path, error, aside)
            connection = database.connect(path)
        spool = cls(connection, path, max_size)
        metrics.spool_oldest_age.set_function(spool.oldest_age)
        metrics.spool_max_bytes.set(max_size)
        return spool

    def close(self) -> None:
        metrics.spool_oldest_age.set_function(lambda: 0.0)
        self._db.close()

    # -- sources ---------------------------------------------------------------------------------

    async def append(self, blocks: Sequence[Block], checkpoints: Mapping[str, bytes | None],
                     source: str) -> columns.Repairs:
        """Store blocks (each under its stream) and the checkpoints of the source that read them
        atomically; waits while the spool is full.

        A checkpoint value of None deletes that checkpoint. Never refuses a record: what cannot be
        stored as it is gets repaired (columns.py), and the repairs are returned, by kind.
        """
        repairs: columns.Repairs = Counter()
        encoded = [self._encode(block, repairs) for block in blocks if block.records]
        size = sum(stored_size for _, _, _, stored_size in encoded)
        while encoded and self.size > 0 and self.size + size > self.max_size:
            self._freed.clear()
            await self._freed.wait()
        now = time.time()
        with self._db:
            inserted = [layout.insert_block(self._db, None, block.stream, len(block.records), stored_size, now, common,
                                      stored).lastrowid for block, common, stored, stored_size in encoded]
            self._write_checkpoints(source, checkpoints)
        if encoded:
            last = inserted[-1]
            assert last is not None  # an INSERT into a rowid table always sets it
            self._last_block_id = last
            self.size += size
            self.events += sum(len(block.records) for block, *_ in encoded)
            self._update_gauges()
            self._appended.set()
        return repairs

    @staticmethod
    def _encode(block: Block, repairs: columns.Repairs) -> tuple[Block, bytes, columns.Columns, int]:
        try:
            common = orjson.dumps(block.common)
        except (TypeError, ValueError):
            common = orjson.dumps(columns.storable_mapping(block.common))
            repairs["unstorable_value"] += len(block.records)
        stored, repaired = columns.encode_total(block.records, time.time_ns())
        repairs.update(repaired)
        return block, common, stored, len(common) + stored.size

    def write_checkpoints(self, source: str, checkpoints: Mapping[str, bytes | None]) -> None:
        """Checkpoints of `source` without records, in one transaction (`shipper import-offsets`)."""
        with self._db:
            self._write_checkpoints(source, checkpoints)

    def _write_checkpoints(self, source: str, checkpoints: Mapping[str, bytes | None]) -> None:
        for key, value in checkpoints.items():
            if value is None:
                self._db.execute("DELETE FROM checkpoints WHERE source = ? AND key = ?", (source, key))
            else:
                self._db.execute(
                    "INSERT INTO checkpoints (source, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (source, key) DO UPDATE SET value = excluded.value",
                    (source, key, value),
                )

    @property
    def is_full(self) -> bool:
        return self.size >= self.max_size

    # -- sinks -------------------------------------------------------------------------------------

    def attach_sinks(self, sink_sources: Mapping[str, Iterable[str]]) -> None:
        """Declare the sinks and their inputs; returns nothing, cursors are read with `cursor()`.

        A sink seen for the first time starts at the end of the spool (it takes new records only).
        Blocks of sources that no sink takes any more are dropped, with a warning.
        """
        self._sink_sources = {sink: frozenset(sources) for sink, sources in sink_sources.items()}
        stored = dict(
            (sink, Position(block, index))
            for sink, block, index in self._db.execute("SELECT sink, block, position FROM cursors")
        )
        end = Position(self._next_block_id(), 0)
        for sink in set(self._cursors) - set(self._sink_sources):  # removed by a reload
            del self._cursors[sink]
        with self._db:
            for sink in self._sink_sources:
                if sink in self._cursors:  # still running across a reload: its cursor in memory is the newest
                    continue
                self._cursors[sink] = stored.get(sink, end)
                if sink not in stored:
                    self._save_cursor(sink, end)
        taken = set().union(*self._sink_sources.values()) if self._sink_sources else set()
        orphans = self._db.execute(
            f"SELECT source, SUM(count) FROM blocks WHERE source NOT IN ({_marks(taken)}) GROUP BY source",
            tuple(taken),
        ).fetchall()
        for source, count in orphans:
            log.warning("dropping %d spooled records of %r: no sink takes it any more", count, source)
            metrics.events_discarded.labels("buffer", source, "spool", "source_removed").inc(count)
        if orphans:
            with self._db:
                self._db.execute(f"DELETE FROM blocks WHERE source NOT IN ({_marks(taken)})", tuple(taken))
            self._recount()
        with self._db:  # state of sinks no longer configured would otherwise stay forever
            sinks = tuple(self._sink_sources)
            self._db.execute(f"DELETE FROM sink_state WHERE sink NOT IN ({_marks(sinks)})", sinks)
            gone = self.parked_area.keep_only(sinks)
        if gone:
            log.warning("dropping %d parked records of sinks no longer configured", gone)
        self._collect()

    def cursor(self, sink: str) -> Position:
        return self._cursors[sink]

    def read(self, sink: str, after: Position, max_records: int) -> list[StoredBlock]:
        """Blocks for `sink` from position `after`, holding at most about `max_records` records."""
        sources = self._sink_sources[sink]
        rows = self._db.execute(
            "SELECT id, source, count, common, timestamps, messages, field_values, field_refs FROM blocks "
            f"WHERE id >= ? AND source IN ({_marks(sources)}) ORDER BY id",
            (after.block, *sources),
        )
        blocks: list[StoredBlock] = []
        total = 0
        for block_id, source, count, common, *stored in rows:
            start = after.index if block_id == after.block else 0
            if start >= count:
                continue
            blocks.append(StoredBlock(block_id, source, orjson.loads(common), *columns.decode(columns.Columns(*stored)),
                                      start))
            total += count - start
            if total >= max_records:
                break
        return blocks

    def tail(self) -> Position:
        """The position after the newest block: a sink there has nothing left to read."""
        return Position(self._next_block_id(), 0)

    async def wait_for_append(self, after: Position) -> None:
        """Return once a block at or beyond `after` exists."""
        while self._next_block_id() <= after.block:
            self._appended.clear()
            await self._appended.wait()

    def ack(self, sink: str, position: Position, forget: Iterable[str] = ()) -> None:
        """Everything of `sink` before `position` is delivered; blocks no sink needs are deleted.

        `forget` names state rows of the sink deleted in the same transaction.
        """
        forget = list(forget)
        if position <= self._cursors[sink] and not forget:
            return
        cursor = max(position, self._cursors[sink])
        with self._db:  # one transaction: the cursor, the state it makes useless, the blocks it frees
            self._save_cursor(sink, cursor)
            self._forget(sink, forget)
            deleted = self._delete_passed({**self._cursors, sink: cursor})
        self._cursors[sink] = cursor  # only once it is on disk: a failed write leaves both as they were
        self._collected(deleted)

    def sink_state(self, sink: str) -> dict[str, bytes]:
        rows = self._db.execute("SELECT key, value FROM sink_state WHERE sink = ?", (sink,))
        return dict(rows.fetchall())

    def save_sink_state(self, sink: str, key: str, value: bytes) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO sink_state (sink, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (sink, key) DO UPDATE SET value = excluded.value",
                (sink, key, value),
            )

    def forget_sink_state(self, sink: str, keys: Iterable[str]) -> None:
        with self._db:
            self._forget(sink, keys)

    def _forget(self, sink: str, keys: Iterable[str]) -> None:
        """Within the caller's transaction: delete the sink's state rows `keys`."""
        self._db.executemany("DELETE FROM sink_state WHERE sink = ? AND key = ?", [(sink, k) for k in keys])

    def backlog(self, sink: str) -> int:
        """Records waiting for `sink` (read from the database: for shutdown and the API, not hot paths)."""
        return self._backlog(self._cursors[sink], self._sink_sources[sink]).count

    def _save_cursor(self, sink: str, position: Position) -> None:
        self._db.execute(
            "INSERT INTO cursors (sink, block, position) VALUES (?, ?, ?) "
            "ON CONFLICT (sink) DO UPDATE SET block = excluded.block, position = excluded.position",
            (sink, position.block, position.index),
        )

    def _collect(self) -> None:
        """Delete blocks that every sink taking their source has passed."""
        with self._db:
            deleted = self._delete_passed(self._cursors)
        self._collected(deleted)

    def _delete_passed(self, cursors: Mapping[str, Position]) -> tuple[int, int]:
        """Within the caller's transaction: delete the blocks every sink taking them has passed;
        returns the bytes and records deleted (no sum over the whole table after every ack)."""
        needed_from: dict[str, int] = {}
        for sink, sources in self._sink_sources.items():
            for source in sources:
                block = cursors[sink].block
                needed_from[source] = min(needed_from.get(source, block), block)
        size = events = 0
        for source, first_needed in needed_from.items():
            for block_bytes, count in self._db.execute(
                    "DELETE FROM blocks WHERE source = ? AND id < ? RETURNING bytes, count", (source, first_needed)):
                size += block_bytes
                events += count
        return size, events

    def _collected(self, deleted: tuple[int, int]) -> None:
        size, events = deleted
        if size or events:
            self.size -= size
            self.events -= events
            self._update_gauges()
            self._freed.set()

    def _recount(self) -> None:
        size, events = self._db.execute(
            "SELECT COALESCE(SUM(bytes), 0), COALESCE(SUM(count), 0) FROM blocks").fetchone()
        self.size, self.events = int(size), int(events)
        self._update_gauges()

    def _next_block_id(self) -> int:
        return self._last_block_id + 1

    def oldest_age(self) -> float:
        """Seconds since the oldest record still in the spool was stored; 0 when it is empty."""
        row = self._db.execute("SELECT created FROM blocks ORDER BY id LIMIT 1").fetchone()
        return max(0.0, time.time() - row[0]) if row else 0.0

    def _update_gauges(self) -> None:
        metrics.spool_bytes.set(self.size)
        metrics.spool_events.set(self.events)


class SpoolUnavailable(Exception):
    """The spool exists but cannot be opened for writing now (disk full, read-only, permissions)."""


def _marks(values: Iterable[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"

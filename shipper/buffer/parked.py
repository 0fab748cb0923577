"""The parked area of the spool: what a sink cannot deliver now for a reason that retrying soon will
not fix (a CloudWatch stream whose group is missing or refused), kept aside in a table of its own
(layout.py) so the sink's cursor can go on past it. Every query of that table is here.

Guarantees:
- Parked items are bounded per sink by their bytes (their JSON): over the bound the oldest rows are
  discarded, and `park` says how many items went.
- An item counts only once the sink's cursor has passed its place: `trim` drops the items of places
  the cursor has not passed yet (after a crash they are read, and parked, again).
- `unpark` deletes a delivered row and the sink's state rows that name it in one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from shipper.buffer.spool import Position


@dataclass(slots=True)
class ParkedRow:
    """Items a sink parked together (one batch), in the order they were read."""

    id: int
    name: str  # what they wait for, in the sink's own terms (a CloudWatch group and stream)
    reason: str
    items: list[Any]
    places: list[tuple[int, int]]  # (block, index) of each item's record in the spool


@dataclass(slots=True)
class ParkedSummary:
    reason: str
    count: int
    bytes: int
    since: float  # when the oldest item still parked was parked


def summary(db: sqlite3.Connection, sink: str) -> dict[str, ParkedSummary]:
    """What `sink` has parked, by name, oldest name first."""
    rows = db.execute(
        "SELECT name, MIN(reason), SUM(count), SUM(bytes), MIN(created) FROM parked WHERE sink = ? "
        "GROUP BY name ORDER BY MIN(id)", (sink,))
    return {name: ParkedSummary(reason, count, size, since) for name, reason, count, size, since in rows}


def sinks(db: sqlite3.Connection) -> list[str]:
    """The sinks with anything parked."""
    try:
        return [sink for (sink,) in db.execute("SELECT DISTINCT sink FROM parked ORDER BY sink")]
    except sqlite3.OperationalError:  # a spool written before streams could be parked
        return []


class ParkedArea:
    """The parked table of a spool open for writing. `forget(sink, keys)` deletes sink state rows
    within the caller's transaction; `cursor(sink)` is the sink's acknowledged position."""

    def __init__(self, db: sqlite3.Connection, forget: Callable[[str, Iterable[str]], None],
                 cursor: Callable[[str], Position]):
        self._db = db
        self._forget = forget
        self._cursor = cursor
        self._bytes: dict[str, int] = dict(db.execute("SELECT sink, SUM(bytes) FROM parked GROUP BY sink").fetchall())

    def park(self, sink: str, name: str, reason: str, items: list[Any], places: list[tuple[int, int]],
             max_size: int) -> int:
        """Park `items` (JSON values) for `sink` under `name`; returns how many items parked earlier
        (or now) were discarded, oldest first, to keep the sink's parked bytes within `max_size`."""
        stored = orjson.dumps(items)
        size = len(stored)
        with self._db:
            self._db.execute(
                "INSERT INTO parked (sink, name, reason, count, bytes, created, places, items) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sink, name, reason, len(items), size, time.time(), orjson.dumps(places), stored))
            total = self._bytes.get(sink, 0) + size
            discarded = 0
            while total > max_size:
                row_id, count, row_bytes = self._db.execute(
                    "SELECT id, count, bytes FROM parked WHERE sink = ? ORDER BY id LIMIT 1", (sink,)).fetchone()
                self._db.execute("DELETE FROM parked WHERE id = ?", (row_id,))
                total -= row_bytes
                discarded += count
        self._bytes[sink] = total
        return discarded

    def next(self, sink: str, name: str) -> ParkedRow | None:
        """The oldest parked row of `name`, or None."""
        row = self._db.execute(
            "SELECT id, reason, places, items FROM parked WHERE sink = ? AND name = ? ORDER BY id LIMIT 1",
            (sink, name)).fetchone()
        if row is None:
            return None
        row_id, reason, places, items = row
        return ParkedRow(row_id, name, reason, orjson.loads(items), [tuple(p) for p in orjson.loads(places)])

    def unpark(self, sink: str, row_id: int, forget: Iterable[str] = ()) -> None:
        """The row was delivered: delete it, and the sink's state rows `forget`, in one transaction."""
        with self._db:
            deleted = self._db.execute("DELETE FROM parked WHERE id = ? RETURNING bytes", (row_id,)).fetchone()
            self._forget(sink, forget)
        if deleted:
            self._bytes[sink] = self._bytes.get(sink, 0) - deleted[0]

    def ids(self, sink: str) -> set[int]:
        return {row_id for (row_id,) in self._db.execute("SELECT id FROM parked WHERE sink = ?", (sink,))}

    def bytes(self, sink: str) -> int:
        return self._bytes.get(sink, 0)

    def summary(self, sink: str) -> dict[str, ParkedSummary]:
        return summary(self._db, sink)

    def trim(self, sink: str) -> int:
        """Drop parked items whose records the sink's cursor has not passed: the sink reads them
        again (a crash came between parking them and the acknowledgement). Returns how many."""
        cursor = self._cursor(sink)
        dropped = 0
        rows = self._db.execute("SELECT id, places, items FROM parked WHERE sink = ? ORDER BY id", (sink,)).fetchall()
        with self._db:
            for row_id, places_json, items_json in rows:
                places = [tuple(p) for p in orjson.loads(places_json)]
                keep = [i for i, place in enumerate(places) if tuple(place) < tuple(cursor)]
                if len(keep) == len(places):
                    continue
                dropped += len(places) - len(keep)
                if not keep:
                    self._db.execute("DELETE FROM parked WHERE id = ?", (row_id,))
                    continue
                items = orjson.loads(items_json)
                kept_items = [items[i] for i in keep]
                self._db.execute("UPDATE parked SET count = ?, bytes = ?, places = ?, items = ? WHERE id = ?",
                                 (len(keep), len(orjson.dumps(kept_items)), orjson.dumps([places[i] for i in keep]),
                                  orjson.dumps(kept_items), row_id))
        (self._bytes[sink],) = self._db.execute(
            "SELECT COALESCE(SUM(bytes), 0) FROM parked WHERE sink = ?", (sink,)).fetchone()
        return dropped

    def keep_only(self, kept: Iterable[str]) -> int:
        """Within the caller's transaction: delete what sinks other than `kept` parked (sinks no longer
        configured); returns how many items went."""
        kept = tuple(kept)
        marks = ", ".join("?" for _ in kept) or "NULL"
        (gone,) = self._db.execute(f"SELECT COALESCE(SUM(count), 0) FROM parked WHERE sink NOT IN ({marks})",
                                   kept).fetchone()
        if gone:
            self._db.execute(f"DELETE FROM parked WHERE sink NOT IN ({marks})", kept)
        self._bytes = {sink: size for sink, size in self._bytes.items() if sink in kept}
        return int(gone)

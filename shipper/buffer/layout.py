"""The spool's layout version: what an agent may open, and how an older layout becomes this one.

`PRAGMA user_version` of the spool database is the version of its layout. Every change of layout
raises SPOOL_VERSION and adds a step to `upgrade`; the history, with the release of each version,
is in CHANGELOG.md and docs/operations.md.

    0  columnar blocks (columns.py), checkpoints, sink state, cursors, parked items; or, before
       that, one JSON array of records per block. Written by every agent before versions counted.
    1  the same tables as the columnar 0: the version is only written now. An agent of 0 opens
       a spool of 1 as its own (it leaves `user_version` as it finds it), so a rollback to it works.

Guarantees:
- An agent never opens a spool of a newer layout than its own: `newer_spool_problem` finds it
  before the agent takes the data dir's lock or writes anything, from the database header and
  the WAL read as plain files (SQLite, even read-only, would create the WAL and its index), so
  the data dir is left byte for byte as it was.
- `upgrade` converts an older spool in one transaction, the version included: a crash during it
  leaves the older layout, complete, for either release to open.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
from pathlib import Path

import orjson

from shipper.buffer import columns

log = logging.getLogger(__name__)

SPOOL_VERSION = 1
SPOOL_FILE = "spool.db"

BLOCKS_TABLE = """
CREATE TABLE IF NOT EXISTS blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    created REAL NOT NULL,
    common BLOB NOT NULL,
    timestamps BLOB NOT NULL,
    messages BLOB NOT NULL,
    field_values BLOB,
    field_refs BLOB
);
CREATE INDEX IF NOT EXISTS blocks_by_source ON blocks (source, id);
"""
SCHEMA = BLOCKS_TABLE + """
CREATE TABLE IF NOT EXISTS checkpoints (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sink_state (
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (sink, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    sink TEXT PRIMARY KEY,
    block INTEGER NOT NULL,
    position INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    name TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    created REAL NOT NULL,
    places BLOB NOT NULL,
    items BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS parked_by_name ON parked (sink, name, id);
"""

_HEADER = 100  # the database file's header; user_version is the big-endian 32-bit integer at 60
_WAL_HEADER = 32
_WAL_FRAME_HEADER = 24
_WAL_MAGIC = 0x377F0682  # +1: checksums in big-endian words


class SpoolTooNew(Exception):
    """The spool was written by an agent of a newer layout; this one must not touch it."""

    def __init__(self, path: Path, found: int):
        from shipper import __version__

        super().__init__(
            f"the spool {path} has layout version {found}, newer than this agent's {SPOOL_VERSION} "
            f"(shipper {__version__}): a newer release wrote it. Run that release or a later one; this agent "
            "changed nothing in the data dir (CHANGELOG.md names each release's spool version)")
        self.found = found


def newer_spool_problem(data_dir: str | Path) -> str | None:
    """Why an agent of this layout version must not open the spool in `data_dir`, if it must not;
    reads the files only, writes nothing."""
    path = Path(data_dir) / SPOOL_FILE
    found = stored_version(path)
    return str(SpoolTooNew(path, found)) if found is not None and found > SPOOL_VERSION else None


def stored_version(path: Path) -> int | None:
    """The layout version the database at `path` has committed: its header's, unless the WAL holds a
    committed newer first page. None when there is no database (or it is not one: opening it tells)."""
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER)
    except FileNotFoundError:
        return None
    if len(header) < _HEADER or not header.startswith(b"SQLite format 3\x00"):
        return None
    (version,) = struct.unpack_from(">I", header, 60)
    in_wal = _committed_wal_version(Path(f"{path}-wal"))
    return in_wal if in_wal is not None else version


def _committed_wal_version(wal: Path) -> int | None:
    """user_version of the newest first page in the WAL's committed, checksum-valid frames; None when
    the WAL holds no such page. Frames are read as SQLite's recovery reads them (salts of the current
    header, cumulative checksums, up to the last commit frame)."""
    try:
        with open(wal, "rb") as file:
            header = file.read(_WAL_HEADER)
            if len(header) < _WAL_HEADER:
                return None
            magic, _, page_size, _, salt1, salt2, check1, check2 = struct.unpack(">8I", header)
            if magic & ~1 != _WAL_MAGIC or page_size & (page_size - 1) or not 512 <= page_size <= 65536:
                return None
            order = ">" if magic & 1 else "<"
            running = _checksum(order, header[:24], (0, 0))
            if running != (check1, check2):
                return None
            pending = committed = None
            while True:
                frame = file.read(_WAL_FRAME_HEADER + page_size)
                if len(frame) < _WAL_FRAME_HEADER + page_size:
                    return committed
                page, commit_size, frame_salt1, frame_salt2, sum1, sum2 = struct.unpack_from(">6I", frame)
                if (frame_salt1, frame_salt2) != (salt1, salt2):
                    return committed
                running = _checksum(order, frame[24:], _checksum(order, frame[:8], running))
                if running != (sum1, sum2):
                    return committed
                if page == 1:
                    (pending,) = struct.unpack_from(">I", frame, _WAL_FRAME_HEADER + 60)
                if commit_size and pending is not None:
                    committed = pending
    except FileNotFoundError:
        return None


def _checksum(order: str, data: bytes, start: tuple[int, int]) -> tuple[int, int]:
    """SQLite's WAL checksum of `data` (a multiple of 8 bytes), continuing from `start`."""
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    first, second = start
    for index in range(0, len(words), 2):
        first = (first + words[index] + second) & 0xFFFFFFFF
        second = (second + words[index + 1] + first) & 0xFFFFFFFF
    return first, second


def upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Bring the spool to SPOOL_VERSION in one transaction (missing tables created, an older layout
    converted); raises SpoolTooNew, before writing anything, for a newer one."""
    (found,) = db.execute("PRAGMA user_version").fetchone()
    if found > SPOOL_VERSION:
        raise SpoolTooNew(path, found)
    existing = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.execute("BEGIN IMMEDIATE")  # DDL included: a crash halfway leaves the layout it found
    try:
        if "blocks" in existing and _has_record_arrays(db):
            _convert_record_arrays(db)
        for statement in filter(str.strip, SCHEMA.split(";")):
            db.execute(statement)
        # written even when unchanged: SQLite opens a file it cannot write read-only without a word,
        # so a read-only data dir is found here and not at the first append
        db.execute(f"PRAGMA user_version = {SPOOL_VERSION}")
        db.commit()
    except BaseException:
        db.rollback()
        raise
    if "blocks" in existing and found < SPOOL_VERSION:
        log.info("spool %s converted from layout version %d to %d", path, found, SPOOL_VERSION)


def _has_record_arrays(db: sqlite3.Connection) -> bool:
    return "records" in {name for _, name, *_ in db.execute("PRAGMA table_info(blocks)")}


def _convert_record_arrays(db: sqlite3.Connection) -> None:
    """A spool of the layout before columns (one JSON array of records per block) is rewritten in
    columns, keeping every block's id, so that checkpoints and sink cursors still point where they did."""
    db.execute("ALTER TABLE blocks RENAME TO blocks_records")
    db.execute("DROP INDEX IF EXISTS blocks_by_source")
    for statement in filter(str.strip, BLOCKS_TABLE.split(";")):
        db.execute(statement)
    rows = db.execute("SELECT id, source, count, created, common, records FROM blocks_records ORDER BY id")
    for block_id, source, count, created, common, records in rows:
        stored = columns.encode(orjson.loads(records))
        insert_block(db, block_id, source, count, len(common) + stored.size, created, common, stored)
    (last,) = db.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'blocks_records'").fetchone()
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'blocks'")
    db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('blocks', ?)", (last,))
    db.execute("DROP TABLE blocks_records")
    log.info("spool converted to the columnar layout of records")


def insert_block(db: sqlite3.Connection, block_id: int | None, source: str, count: int, size: int, created: float,
                 common: bytes, stored: columns.Columns) -> sqlite3.Cursor:
    return db.execute(
        "INSERT INTO blocks (id, source, count, bytes, created, common, timestamps, messages, field_values, "
        "field_refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (block_id, source, count, size, created, common,
         stored.timestamps, stored.messages, stored.field_values, stored.field_refs),
    )

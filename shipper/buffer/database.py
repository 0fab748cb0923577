"""The spool's SQLite file: opened with the settings the spool relies on and checked, and moved
aside when it is damaged. What the tables hold, and their layout versions, is layout.py's."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from shipper.buffer import layout

WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the WAL file keeps after a checkpoint resets it


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        connection.isolation_level = "DEFERRED"
        # Blocks are ~1 MiB blobs: SQLite's largest pages (64 KiB; new files only) make a quarter of the
        # reads and writes of 16 KiB pages (a third less kernel time per record); the WAL is still
        # checkpointed at about 16 MiB, as with 1,000 pages of 16 KiB
        connection.execute("PRAGMA page_size=65536")
        connection.execute("PRAGMA wal_autocheckpoint=250")
        # a WAL that grew while a reader (`shipper status`) kept the checkpoint from resetting it is cut
        # back to this size at the next reset, so it does not keep its largest size on disk for good
        connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        connection.execute("PRAGMA journal_mode=WAL").fetchone()
        connection.execute("PRAGMA synchronous=NORMAL")
        # Debian's SQLite is built with SECURE_DELETE on: every delivered block would be overwritten with
        # zeros, written to the WAL and checkpointed again (a quarter of the spool's kernel time). Freed
        # pages keep copies of lines that are on the node's disk anyway, in a data dir created 0700.
        connection.execute("PRAGMA secure_delete=OFF")
        (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {verdict}")
        layout.upgrade(connection, path)
    except (sqlite3.DatabaseError, layout.SpoolTooNew):
        connection.close()
        raise
    return connection


def is_corruption(error: sqlite3.DatabaseError) -> bool:
    """Only a damaged file is moved aside; our own integrity check raises a plain DatabaseError."""
    name = getattr(error, "sqlite_errorname", None)
    return name is None or name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            candidate.rename(Path(f"{aside}{suffix}"))
    return aside

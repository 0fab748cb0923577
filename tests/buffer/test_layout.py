"""The spool's layout version: a new spool is written at this agent's version, an older one is converted
in one transaction, a newer one is refused before a byte of the data dir changes, and the version is
read from the files as SQLite itself would read it, committed WAL frames included."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipper.buffer import layout
from shipper.buffer.layout import SPOOL_FILE, SPOOL_VERSION, SpoolTooNew, newer_spool_problem, stored_version
from shipper.buffer.spool import Spool
from shipper.record import Block
from tests.agent_process import wait_for


def block(source: str, *messages: str) -> Block:
    return Block(source, {"file": f"/{source}.log"}, [(i, m, None) for i, m in enumerate(messages)])


def messages(blocks) -> list[str]:
    return [record[1] for b in blocks for record in b.records[b.start :]]


def version_of(path: Path) -> int:
    """user_version as SQLite reads it, from a copy (opening the original would write its WAL index)."""
    copy = path.parent / "sqlite-reads-a-copy"
    copy.mkdir(exist_ok=True)
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", copy / f"{path.name}{suffix}")
    db = sqlite3.connect(copy / path.name)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()
        shutil.rmtree(copy)


def snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    """Every file of a directory: its mode and the hash of its bytes."""
    return {path.name: (path.stat().st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
            for path in sorted(directory.iterdir())}


def record_array_spool(directory: Path, blocks: dict[int, list[list]]) -> None:
    """A spool of the layout before columns: one JSON array of [timestamp, message, fields] per block."""
    db = sqlite3.connect(directory / SPOOL_FILE)
    db.executescript("""
        CREATE TABLE blocks (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, count INTEGER NOT NULL,
            bytes INTEGER NOT NULL, created REAL NOT NULL, common BLOB NOT NULL, records BLOB NOT NULL);
        CREATE INDEX blocks_by_source ON blocks (source, id);
        CREATE TABLE cursors (sink TEXT PRIMARY KEY, block INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
    """)
    db.execute("INSERT INTO cursors VALUES ('out', ?, 0)", (min(blocks, default=1),))
    for block_id, records in blocks.items():
        db.execute("INSERT INTO blocks VALUES (?, 'app', ?, 0, 0.0, ?, ?)",
                   (block_id, len(records), b'{"file": "/app.log"}', orjson.dumps(records)))
    db.commit()
    db.close()


def started_writing(wal: Path, process: subprocess.Popen) -> bool:
    return (wal.exists() and wal.stat().st_size > 0) or process.poll() is not None


def newer_spool(directory: Path, version: int = SPOOL_VERSION + 1) -> None:
    spool = Spool.open(directory, max_size=1024**2)
    spool.close()
    db = sqlite3.connect(directory / SPOOL_FILE)
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


def test_a_new_spool_is_written_at_this_agents_layout_version(tmp_path):
    Spool.open(tmp_path, max_size=1024**2).close()

    assert version_of(tmp_path / SPOOL_FILE) == SPOOL_VERSION == stored_version(tmp_path / SPOOL_FILE)


async def test_a_spool_of_version_0_is_converted_keeping_its_records_and_says_so(tmp_path, caplog):
    spool = Spool.open(tmp_path, max_size=1024**2)
    spool.attach_sinks({"out": ["app"]})
    await spool.append([block("app", "a", "b")], {"offset": b"12"}, source="app")
    spool.close()
    db = sqlite3.connect(tmp_path / SPOOL_FILE)
    db.execute("PRAGMA user_version = 0")  # as every agent before versions left it
    db.commit()
    db.close()

    with caplog.at_level(logging.INFO, logger="shipper.buffer.layout"):
        reopened = Spool.open(tmp_path, max_size=1024**2)
    reopened.attach_sinks({"out": ["app"]})

    assert messages(reopened.read("out", reopened.cursor("out"), 100)) == ["a", "b"]
    assert reopened.checkpoints("app") == {"offset": b"12"}
    assert f"converted from layout version 0 to {SPOOL_VERSION}" in caplog.text
    reopened.close()
    assert version_of(tmp_path / SPOOL_FILE) == SPOOL_VERSION


async def test_a_spool_of_the_record_array_layout_is_converted_and_delivers_from_where_it_was(tmp_path):
    record_array_spool(tmp_path, {7: [[1, "a", {"stream": "stdout"}], [2, "b", None]], 8: [[3, "c", None]]})
    db = sqlite3.connect(tmp_path / SPOOL_FILE)
    db.executescript("UPDATE cursors SET position = 1;"
                     "UPDATE sqlite_sequence SET seq = 9 WHERE name = 'blocks';")  # 9 was acknowledged and deleted
    db.close()

    spool = Spool.open(tmp_path, max_size=1024**3)
    spool.attach_sinks({"out": ["app"]})
    await spool.append([block("app", "d")], {}, source="app")
    blocks = spool.read("out", spool.cursor("out"), 100)

    assert [b.id for b in blocks] == [7, 8, 10]
    assert messages(blocks) == ["b", "c", "d"]
    assert blocks[0].records == [(1, "a", {"stream": "stdout"}), (2, "b", None)]
    assert spool.events == 4 and spool.size > 0
    spool.close()
    assert version_of(tmp_path / SPOOL_FILE) == SPOOL_VERSION


def test_a_spool_of_a_newer_layout_is_found_naming_both_versions_without_a_byte_changed(tmp_path):
    newer_spool(tmp_path)
    untouched = snapshot(tmp_path)

    problem = newer_spool_problem(tmp_path)

    assert problem is not None
    assert f"layout version {SPOOL_VERSION + 1}, newer than this agent's {SPOOL_VERSION}" in problem
    assert snapshot(tmp_path) == untouched


def test_opening_a_spool_of_a_newer_layout_raises_before_writing_to_it(tmp_path):
    newer_spool(tmp_path)

    with pytest.raises(SpoolTooNew) as refused:
        Spool.open(tmp_path, max_size=1024**2)

    assert refused.value.found == SPOOL_VERSION + 1
    assert version_of(tmp_path / SPOOL_FILE) == SPOOL_VERSION + 1
    assert sqlite3.connect(tmp_path / SPOOL_FILE).execute("SELECT COUNT(*) FROM blocks").fetchone() == (0,)


def test_a_newer_version_still_in_the_wal_of_a_killed_agent_is_found(tmp_path):
    Spool.open(tmp_path, max_size=1024**2).close()
    # a newer agent committed its version and was killed before any checkpoint: only the WAL has it
    subprocess.run([sys.executable, "-c", f"""
import os, sqlite3
db = sqlite3.connect({str(tmp_path / SPOOL_FILE)!r}, isolation_level=None)
db.execute("PRAGMA wal_autocheckpoint = 0")
db.execute("PRAGMA user_version = {SPOOL_VERSION + 1}")
os._exit(0)
"""], check=True)
    header = (tmp_path / SPOOL_FILE).read_bytes()[60:64]
    untouched = snapshot(tmp_path)

    assert int.from_bytes(header, "big") == SPOOL_VERSION  # the database file alone would mislead
    assert stored_version(tmp_path / SPOOL_FILE) == SPOOL_VERSION + 1 == version_of(tmp_path / SPOOL_FILE)
    assert newer_spool_problem(tmp_path) is not None
    assert snapshot(tmp_path) == untouched


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(versions=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=4), rows=st.integers(0, 40),
       damage=st.one_of(st.none(), st.tuples(st.just("cut"), st.floats(0, 1)),
                        st.tuples(st.just("flip"), st.floats(0, 1))))
def test_the_version_read_from_the_files_is_the_one_sqlite_reads(tmp_path_factory, versions, rows, damage):
    directory = tmp_path_factory.mktemp("wal")
    path = directory / SPOOL_FILE
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA page_size = 4096")
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE t (x BLOB)")
    for version in versions:  # each a commit: some with page 1 only, some with rows after it
        writer.execute(f"PRAGMA user_version = {version}")
        for _ in range(rows):
            writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    crashed = directory / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{path}{suffix}", crashed / f"{SPOOL_FILE}{suffix}")
    writer.close()
    wal = crashed / f"{SPOOL_FILE}-wal"
    data = bytearray(wal.read_bytes())
    if damage and damage[0] == "cut":
        data = data[: int(len(data) * damage[1])]
    elif damage and data:
        data[min(len(data) - 1, int(len(data) * damage[1]))] ^= 0x5A
    wal.write_bytes(bytes(data))

    assert stored_version(crashed / SPOOL_FILE) == version_of(crashed / SPOOL_FILE)


def test_a_conversion_killed_midway_leaves_the_layout_it_found_for_either_release(tmp_path):
    # more than SQLite's page cache holds (2 MB): the transaction spills to the WAL long before its commit
    records = {n: [[n, f"line {n:05d} " + "x" * 300, None]] for n in range(1, 20_001)}
    found = []
    for attempt, after_first_write in enumerate((0.0, 0.02, 0.1, 0.3, None)):
        directory = tmp_path / f"attempt-{attempt}"
        directory.mkdir()
        record_array_spool(directory, records)
        wal = directory / f"{SPOOL_FILE}-wal"
        converting = subprocess.Popen([sys.executable, "-c", f"""
from shipper.buffer.spool import Spool
Spool.open({str(directory)!r}, max_size=1 << 30).close()
"""])
        if after_first_write is None:
            assert converting.wait(60) == 0
        else:
            wait_for(partial(started_writing, wal, converting), 30, "the conversion writing")
            time.sleep(after_first_write)  # the kill lands at a different point of the transaction each time
            converting.kill()
            converting.wait()
        version = stored_version(directory / SPOOL_FILE)
        db = sqlite3.connect(directory / SPOOL_FILE)
        columns = {row[1] for row in db.execute("PRAGMA table_info(blocks)")}
        db.close()
        found.append(version)
        assert (version, "records" in columns) in {(0, True), (SPOOL_VERSION, False)}

        spool = Spool.open(directory, max_size=1 << 30)
        spool.attach_sinks({"out": ["app"]})
        assert messages(spool.read("out", spool.cursor("out"), 30_000)) == [r[0][1] for r in records.values()]
        spool.close()
    assert found[0] == 0 and found[-1] == SPOOL_VERSION  # a kill right after the first write finds the old layout


def test_the_header_layout_constant_is_where_sqlite_keeps_user_version(tmp_path):
    db = sqlite3.connect(tmp_path / "probe.db")
    db.execute("PRAGMA user_version = 123456")
    db.commit()
    db.close()

    assert int.from_bytes((tmp_path / "probe.db").read_bytes()[60:64], "big") == 123456
    assert layout.stored_version(tmp_path / "probe.db") == 123456

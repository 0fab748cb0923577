"""The spool: atomic blocks with checkpoints, per-sink cursors, backpressure, recovery."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.buffer import database
from shipper.buffer.layout import SPOOL_FILE
from shipper.buffer.spool import Position, Spool, SpoolUnavailable
from shipper.observe import metrics
from shipper.record import Block


def block(source: str, *messages: str) -> Block:
    return Block(source, {"file": f"/{source}.log"}, [(i, m, None) for i, m in enumerate(messages)])


def messages(blocks) -> list[str]:
    return [record[1] for b in blocks for record in b.records[b.start :]]


@pytest.fixture
def spool(tmp_path):
    spool = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    yield spool
    spool.close()


async def test_records_and_checkpoint_commit_together_and_survive_reopen(tmp_path, spool):
    spool.attach_sinks({"out": ["app"]})
    await spool.append([block("app", "a", "b")], {"1:2": b"offset-4"}, source="app")
    spool.close()

    reopened = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    reopened.attach_sinks({"out": ["app"]})

    assert reopened.checkpoints("app") == {"1:2": b"offset-4"}
    assert messages(reopened.read("out", reopened.cursor("out"), 100)) == ["a", "b"]
    reopened.close()


async def test_a_block_leaves_only_when_every_sink_taking_it_has_acknowledged(spool):
    spool.attach_sinks({"fast": ["app"], "slow": ["app", "other"]})
    await spool.append([block("app", "a")], {}, source="app")
    await spool.append([block("other", "b")], {}, source="other")

    first = spool.read("fast", spool.cursor("fast"), 100)
    spool.ack("fast", first[-1].end())
    assert spool.events == 2

    everything = spool.read("slow", spool.cursor("slow"), 100)
    assert messages(everything) == ["a", "b"]
    spool.ack("slow", everything[0].end())
    assert spool.events == 1
    spool.ack("slow", everything[1].end())
    assert spool.events == 0
    assert spool.size == 0


async def test_a_partial_ack_resumes_inside_the_block(spool):
    spool.attach_sinks({"out": ["app"]})
    await spool.append([block("app", "a", "b", "c")], {}, source="app")
    (stored,) = spool.read("out", spool.cursor("out"), 100)

    spool.ack("out", Position(stored.id, 2))

    assert messages(spool.read("out", spool.cursor("out"), 100)) == ["c"]
    assert spool.backlog("out") == 1


async def test_a_sink_reads_only_its_inputs(spool):
    spool.attach_sinks({"out": ["app"], "all": ["app", "other"]})
    await spool.append([block("other", "x")], {}, source="other")
    await spool.append([block("app", "y")], {}, source="app")

    assert messages(spool.read("out", spool.cursor("out"), 100)) == ["y"]


async def test_a_new_sink_starts_at_the_end_and_old_cursors_are_kept(tmp_path, spool):
    spool.attach_sinks({"out": ["app"]})
    await spool.append([block("app", "old")], {}, source="app")
    spool.close()

    reopened = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    reopened.attach_sinks({"out": ["app"], "new": ["app"]})
    await reopened.append([block("app", "fresh")], {}, source="app")

    assert messages(reopened.read("out", reopened.cursor("out"), 100)) == ["old", "fresh"]
    assert messages(reopened.read("new", reopened.cursor("new"), 100)) == ["fresh"]
    reopened.close()


async def test_append_waits_while_full_and_resumes_when_a_sink_frees_space(tmp_path):
    spool = Spool.open(tmp_path, max_size=1024 * 1024)
    spool.attach_sinks({"out": ["app"]})
    big = "x" * (600 * 1024)
    await spool.append([block("app", big)], {}, source="app")

    second = asyncio.create_task(spool.append([block("app", big)], {"k": b"v"}, source="app"))
    await asyncio.sleep(0)
    assert not second.done()
    assert spool.checkpoints("app") == {}

    (stored,) = spool.read("out", spool.cursor("out"), 100)
    spool.ack("out", stored.end())
    await asyncio.wait_for(second, 5)

    assert spool.checkpoints("app") == {"k": b"v"}
    assert spool.events == 1
    spool.close()


async def test_wait_for_append_wakes_on_a_new_block(spool):
    spool.attach_sinks({"out": ["app"]})
    waiter = asyncio.create_task(spool.wait_for_append(spool.tail()))
    await asyncio.sleep(0)
    assert not waiter.done()

    await spool.append([block("app", "a")], {}, source="app")

    await asyncio.wait_for(waiter, 5)


async def test_a_checkpoint_of_none_deletes_it(spool):
    spool.attach_sinks({"out": ["app"]})
    await spool.append([], {"k": b"v"}, source="app")
    await spool.append([], {"k": None}, source="app")

    assert spool.checkpoints("app") == {}


async def test_blocks_of_a_source_no_sink_takes_any_more_are_dropped_and_counted(tmp_path, spool):
    spool.attach_sinks({"out": ["app", "gone"]})
    await spool.append([block("gone", "a", "b")], {}, source="gone")
    spool.close()
    before = metrics.events_discarded.labels("buffer", "gone", "spool", "source_removed")._value.get()

    reopened = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    reopened.attach_sinks({"out": ["app"]})

    assert reopened.events == 0
    assert metrics.events_discarded.labels("buffer", "gone", "spool", "source_removed")._value.get() == before + 2
    reopened.close()


@pytest.mark.parametrize("damage", ["random-bytes", "truncated", "empty-header"])
async def test_a_corrupt_spool_is_moved_aside_and_a_fresh_one_starts(tmp_path, damage, caplog):
    spool = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    spool.attach_sinks({"out": ["app"]})
    for i in range(200):
        await spool.append([block("app", f"record {i} " + "y" * 500)], {"k": str(i).encode()}, source="app")
    spool._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    spool.close()
    path = tmp_path / SPOOL_FILE
    if damage == "random-bytes":
        path.write_bytes(os.urandom(path.stat().st_size))
    elif damage == "truncated":
        os.truncate(path, path.stat().st_size // 2)
    else:
        with open(path, "r+b") as f:
            f.write(b"\0" * 100)
    before = metrics.spool_corrupt._value.get()

    fresh = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    fresh.attach_sinks({"out": ["app"]})
    await fresh.append([block("app", "after")], {}, source="app")

    assert messages(fresh.read("out", fresh.cursor("out"), 100)) == ["after"]
    assert metrics.spool_corrupt._value.get() == before + 1
    assert any("is corrupt" in r.message for r in caplog.records)
    assert [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    fresh.close()


def test_the_spool_uses_write_ahead_logging(tmp_path):
    Spool.open(tmp_path, max_size=1024 * 1024).close()

    (mode,) = sqlite3.connect(tmp_path / SPOOL_FILE).execute("PRAGMA journal_mode").fetchone()

    assert mode == "wal"


async def test_a_wal_grown_while_a_reader_held_it_is_cut_back_once_the_reader_is_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "WAL_SIZE_LIMIT", 1024 * 1024)
    spool = Spool.open(tmp_path, max_size=256 * 1024 * 1024)
    spool.attach_sinks({"out": ["app"]})
    wal = tmp_path / (SPOOL_FILE + "-wal")
    (page_size,) = spool._db.execute("PRAGMA page_size").fetchone()
    (pages_per_checkpoint,) = spool._db.execute("PRAGMA wal_autocheckpoint").fetchone()
    reader = sqlite3.connect(tmp_path / SPOOL_FILE)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM checkpoints").fetchone()  # a snapshot the WAL cannot reset past
    for n in range(300):
        await spool.append([block("app", f"line {n}")], {f"file-{n}": b"offset"}, source="app")
    grown = wal.stat().st_size
    reader.rollback()
    reader.close()

    for n in range(300):  # a checkpoint completes and the next write starts the WAL over
        await spool.append([block("app", f"line {n}")], {f"file-{n}": b"offset"}, source="app")

    checkpoint_at = 1.25 * page_size * pages_per_checkpoint  # the WAL's usual most, with the last commit
    assert grown > 3 * checkpoint_at
    assert wal.stat().st_size <= checkpoint_at
    spool.close()


def test_a_data_dir_the_spool_creates_is_for_its_owner_only(tmp_path):
    Spool.open(tmp_path / "data", max_size=1024 * 1024).close()

    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700


def test_sink_state_is_forgotten_with_the_acknowledgement_and_when_the_sink_is_removed(tmp_path):
    spool = Spool.open(tmp_path, max_size=1024**3)
    spool.attach_sinks({"cw": ["app"], "gone": ["app"]})
    spool.save_sink_state("cw", "1:0:0", b"batch")
    spool.save_sink_state("cw", "2:0:0", b"batch")
    spool.save_sink_state("gone", "1:0:0", b"batch")

    spool.ack("cw", Position(2, 0), forget=["1:0:0"])
    spool.attach_sinks({"cw": ["app"]})

    assert spool.sink_state("cw") == {"2:0:0": b"batch"}
    assert spool.sink_state("gone") == {}


async def test_a_failed_acknowledgement_leaves_the_cursor_where_the_disk_has_it(spool):
    spool.attach_sinks({"out": ["app"]})
    await spool.append([block("app", "a", "b")], {}, source="app")
    before = spool.cursor("out")
    blocks = spool.read("out", before, 100)
    spool._db.execute("PRAGMA query_only = ON")  # every write now fails, as on a full disk

    with pytest.raises(sqlite3.OperationalError):
        spool.ack("out", blocks[-1].end())

    assert spool.cursor("out") == before
    assert spool.events == 2
    spool._db.execute("PRAGMA query_only = OFF")
    spool.ack("out", blocks[-1].end())
    assert spool.events == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
async def test_a_read_only_data_dir_is_refused_at_open_and_the_spool_is_not_moved_aside(tmp_path):
    data = tmp_path / "data"
    spool = Spool.open(data, max_size=10 * 1024 * 1024)
    spool.attach_sinks({"out": ["app"]})
    await spool.append([block("app", "kept")], {}, source="app")
    spool.close()
    subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(data)], check=True)
    try:
        with pytest.raises(SpoolUnavailable, match="cannot open the spool"):
            Spool.open(data, max_size=10 * 1024 * 1024)
    finally:
        subprocess.run(["umount", str(data)], check=True)

    assert [p.name for p in data.iterdir() if ".corrupt-" in p.name] == []
    reopened = Spool.open(data, max_size=10 * 1024 * 1024)
    reopened.attach_sinks({"out": ["app"]})
    assert messages(reopened.read("out", reopened.cursor("out"), 100)) == ["kept"]
    reopened.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.tuples(st.just("append"), st.sampled_from(["app", "other"]), st.integers(1, 5)),
                          st.tuples(st.just("ack"), st.sampled_from(["fast", "slow"]), st.integers(0, 3))),
                max_size=25))
def test_the_running_size_and_record_count_always_equal_what_the_table_holds(tmp_path_factory, steps):
    spool = Spool.open(tmp_path_factory.mktemp("spool"), max_size=1024**3)
    spool.attach_sinks({"fast": ["app"], "slow": ["app", "other"]})

    async def run() -> None:
        for kind, name, n in steps:
            if kind == "append":
                await spool.append([block(name, *(f"m{i}" for i in range(n)))], {}, source=name)
            else:
                blocks = spool.read(name, spool.cursor(name), 100)
                if blocks:
                    spool.ack(name, blocks[min(n, len(blocks) - 1)].end())
            held = spool._db.execute("SELECT COALESCE(SUM(bytes), 0), COALESCE(SUM(count), 0) FROM blocks").fetchone()
            assert (spool.size, spool.events) == held

    asyncio.run(run())
    spool.close()

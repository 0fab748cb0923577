"""Objects are cut where the size says, and, after a restart, exactly where the ledger says: the same
records of the same partition in the same object, whatever the reads and the times this time."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from shipper.buffer.spool import Position, StoredBlock
from shipper.sinks.s3.gather import Gatherer, ObjectQueue
from shipper.sinks.s3.objects import S3Object

PARTITIONS = [("a",), ("b",), ("c",)]


def block(block_id: int, partitions: list[int], start: int = 0) -> StoredBlock:
    messages = [f"{block_id}:{i}:{'x' * (i % 7)}" for i in range(len(partitions))]
    return StoredBlock(block_id, "app", {}, [10**18 + block_id * 1000 + i for i in range(len(partitions))], messages,
                       [{"p": p} for p in partitions], start)


def gather(blocks: list[StoredBlock], gatherer: Gatherer, queues: dict[tuple[str, ...], ObjectQueue],
           closes: frozenset[int] = frozenset()) -> list[S3Object]:
    """Route every record as the sink does, one record run at a time; after the n-th run in `closes`,
    every object being gathered goes (as an object old enough would)."""
    run = 0
    for stored in blocks:
        lines = [m.encode() for m in stored.messages[stored.start:]]
        fields = stored.fields[stored.start:]
        for index, own in enumerate(fields):
            queue = queues.setdefault(PARTITIONS[own["p"]], ObjectQueue(PARTITIONS[own["p"]]))
            gatherer.gather(queue, stored, lines, index, index + 1, segment=1)
            run += 1
            if run in closes:
                for each in queues.values():
                    gatherer.close_due(each)
        for queue in queues.values():  # as the sink does after each read
            if queue.recovered or (queue.open is not None and queue.open.row is not None):
                gatherer.passed(queue, stored.end())
    for queue in queues.values():
        gatherer.close_due(queue)
    return [closed for queue in queues.values() for closed in queue.closed]


def lines_of(gathered: S3Object) -> list[bytes]:
    return body_of(gathered).split(b"\n")[:-1]


def body_of(gathered: S3Object) -> bytes:
    return b"".join(gathered.pieces(1000))


def test_an_object_is_closed_once_its_lines_reach_max_object_bytes():
    gatherer = Gatherer(100, gzip=None, clock=lambda: 0.0)
    objects = gather([block(1, [0] * 50)], gatherer, {})

    assert [o.raw >= 100 for o in objects[:-1]] == [True] * (len(objects) - 1)
    assert all(o.raw - len(lines_of(o)[-1]) - 1 < 100 for o in objects)  # its last line is the one that got there
    assert b"".join(map(body_of, objects)).split(b"\n")[:-1] == [m.encode() for m in block(1, [0] * 50).messages]


@given(layout=st.lists(st.lists(st.integers(0, 2), min_size=1, max_size=12), min_size=1, max_size=8),
       closes=st.sets(st.integers(1, 96), max_size=10), cursor_at=st.integers(0, 200),
       max_bytes=st.integers(16, 200), gzip=st.sampled_from([None, 1, 6]))
def test_after_a_restart_the_ledgers_objects_are_cut_again_from_the_same_records(layout, closes, cursor_at, max_bytes,
                                                                                 gzip):
    blocks = [block(n + 1, partitions) for n, partitions in enumerate(layout)]
    first_run = gather(blocks, Gatherer(max_bytes, gzip, lambda: 0.0), {}, frozenset(closes))
    positions = [Position(b.id, i) for b in blocks for i in range(len(b.messages))]
    cursor = positions[min(cursor_at, len(positions) - 1)]
    rows = sorted((o.row_for(f"key-{o.first}") for o in first_run if o.last >= cursor), key=lambda r: r.first)

    queues: dict[tuple[str, ...], ObjectQueue] = {}
    for row in rows:
        queues.setdefault(row.partition, ObjectQueue(row.partition)).recovered.append(row)
    reread = [block(b.id, [f["p"] for f in b.fields], cursor.index if b.id == cursor.block else 0)
              for b in blocks if b.id >= cursor.block]
    second_run = gather(reread, Gatherer(max_bytes, gzip, lambda: 0.0), queues)  # no early closes this time

    again = {o.row.first: o for o in second_run if o.row is not None}
    assert sorted(again) == [row.first for row in rows]
    before = {o.first: o for o in first_run}
    for row in rows:
        cut = again[row.first]
        assert (cut.last, cut.partition) == (row.last, row.partition)
        if row.first >= cursor:  # wholly unacknowledged: sent again, the very same lines
            assert lines_of(cut) == lines_of(before[row.first])


def test_recorded_objects_whose_records_went_elsewhere_after_a_restart_are_dropped_and_counted():
    gatherer = Gatherer(1000, gzip=None, clock=lambda: 0.0)
    before = gather([block(1, [0, 1, 0, 1])], Gatherer(1000, gzip=None, clock=lambda: 0.0), {})
    queues = {("gone",): ObjectQueue(("gone",))}  # the key changed: no record is of that partition now
    for each in before:
        queues[("gone",)].recovered.append(replace(each.row_for("old-key"), partition=("gone",)))

    after = gather([block(1, [0, 1, 0, 1])], gatherer, queues)

    assert gatherer.mismatched == 2 and not queues[("gone",)].recovered
    assert sorted(o.records for o in after) == [2, 2] and all(o.row is None for o in after)

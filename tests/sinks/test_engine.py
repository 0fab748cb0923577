"""The delivery engine every sink runs on (sinks/engine.py), with records partitioned by key, on a real
spool, and a `deliver` the test answers: a key's batches start in order and within its bound, the
cursor passes a record only once it and everything before it was answered (whatever order the answers
come in, checked after every answer over random reads, keys, bounds and answer orders), a batch that is
not full goes exactly when its oldest record has waited the batch timeout, or at once when the agent
drains, and a stopped run leaves exactly what was not acknowledged to the next.

The async tests run on a virtual clock (looptime): the loop's time jumps to its next timer, so a timeout
of an hour is checked to the millisecond without waiting for it."""

from __future__ import annotations

import asyncio
import tempfile
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.config.base import SinkOptions
from shipper.sinks.engine import Acks, DeliverySink
from tests.sinks.harness import SOURCE, open_spool, running, store, until

pytestmark = pytest.mark.looptime


class Key:
    """The records of one key: (message, read segment, arrival on the loop's clock) in spool order."""

    def __init__(self, name: str):
        self.name = name
        self.records: deque[tuple[str, int, float]] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def since(self) -> float | None:
        return self.records[0][2] if self.records else None

    def waiting(self) -> bool:
        return bool(self.records)

    def full(self) -> bool:
        return len(self.records) >= KeyedSink.batch_size


class KeyedSink(DeliverySink[Key, list[str]]):
    """Records keyed by their message's first letter; `deliver` waits until the test answers the batch
    (by its first message)."""

    batch_size = 2

    def __init__(self, spool: Spool, *, per_partition: int = 1, batch_timeout: float = 0.0):
        super().__init__("out", SinkOptions(type="test", inputs=[SOURCE]), spool, batch_timeout=batch_timeout,
                         per_partition=per_partition, read_records=100)
        self.keys: dict[str, Key] = {}
        self.answers: dict[str, asyncio.Future[None]] = {}
        self.started: list[str] = []
        self.started_at: dict[str, float] = {}  # on the loop's clock
        self._starting = asyncio.Event()
        self.sent: list[list[str]] = []
        self.in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}

    def route(self, blocks: list[StoredBlock], end: Position) -> Iterable[Key]:
        segment = self.acks.open(end)
        touched, count, now = set(), 0, asyncio.get_running_loop().time()
        for block in blocks:
            for message in block.messages[block.start:]:
                key = self.keys.setdefault(message[0], Key(message[0]))
                key.records.append((message, segment, now))
                touched.add(key)
                count += 1
        self.acks.seal(segment, count)
        return touched

    def partitions(self) -> Iterable[Key]:
        return self.keys.values()

    def next_batch(self, key: Key) -> tuple[list[str], Acks] | None:
        taken = [key.records.popleft() for _ in range(min(self.batch_size, len(key.records)))]
        acks: dict[int, int] = {}
        for _, segment, _ in taken:
            acks[segment] = acks.get(segment, 0) + 1
        return [message for message, _, _ in taken], acks

    async def deliver(self, key: Key, batch: list[str]) -> None:
        self.in_flight[key.name] = self.in_flight.get(key.name, 0) + 1
        self.most_in_flight[key.name] = max(self.most_in_flight.get(key.name, 0), self.in_flight[key.name])
        answer = self.answers[batch[0]] = asyncio.get_running_loop().create_future()
        self.started.append(batch[0])
        self.started_at[batch[0]] = asyncio.get_running_loop().time()
        self._starting.set()
        try:
            await answer
        finally:
            self.in_flight[key.name] -= 1
        self.sent.append(batch)

    def answer(self, first_message: str) -> None:
        self.answers[first_message].set_result(None)

    async def until_started(self, *first_messages: str) -> None:
        while not set(first_messages) <= set(self.started):
            self._starting.clear()
            await self._starting.wait()


async def two_reads_in_flight(spool: Spool, sink: KeyedSink) -> None:
    """Two reads, one batch each (keys a and b), both sent and not answered."""
    await store(spool, "a1", "a2")
    await sink.until_started("a1")
    await store(spool, "b1", "b2")
    await sink.until_started("b1")


async def test_a_keys_batches_start_in_order_one_at_a_time_while_other_keys_go_on(spool):
    await store(spool, "a1", "a2", "b1", "a3", "a4", "b2")
    sink = KeyedSink(spool, per_partition=1)
    async with running(sink):
        await sink.until_started("a1", "b1")
        await asyncio.sleep(0.05)
        assert sorted(sink.started) == ["a1", "b1"]  # a3 waits for a1's answer

        sink.answer("a1")
        await sink.until_started("a3")
        sink.answer("a3")
        sink.answer("b1")
        await until(lambda: sink.idle.is_set())

    assert sink.sent == [["a1", "a2"], ["a3", "a4"], ["b1", "b2"]]


async def test_a_key_has_at_most_its_bound_of_batches_in_flight(spool):
    await store(spool, *(f"a{i}" for i in range(10)))
    sink = KeyedSink(spool, per_partition=3)
    async with running(sink):
        for first in ("a0", "a2", "a4", "a6", "a8"):
            await sink.until_started(first)
            assert sink.in_flight["a"] <= 3
            sink.answer(first)
        await until(lambda: sink.idle.is_set())

    assert sink.most_in_flight["a"] == 3
    assert [m for batch in sink.sent for m in batch] == [f"a{i}" for i in range(10)]


async def test_the_cursor_passes_a_read_only_once_it_and_every_read_before_were_answered(spool):
    sink = KeyedSink(spool, per_partition=2)
    start = spool.cursor("out")
    async with running(sink):
        await two_reads_in_flight(spool, sink)

        sink.answer("b1")
        await until(lambda: ["b1", "b2"] in sink.sent)
        assert spool.cursor("out") == start  # a1 is still in flight

        sink.answer("a1")
        await until(lambda: sink.idle.is_set())
        assert spool.cursor("out") >= Position(start.block + 2, 0)


async def test_a_batch_that_is_not_full_goes_when_its_oldest_record_has_waited_the_batch_timeout(spool):
    sink = KeyedSink(spool, batch_timeout=30)
    loop = asyncio.get_running_loop()
    async with running(sink):
        first = loop.time()
        await store(spool, "a1")
        await asyncio.sleep(10)
        await store(spool, "b1")
        await asyncio.sleep(19.9)
        assert sink.started == []

        await sink.until_started("a1", "b1")
        sink.answer("a1")
        sink.answer("b1")
        await until(lambda: sink.idle.is_set())

    assert sink.started_at["a1"] - first == pytest.approx(30, abs=0.01)
    assert sink.started_at["b1"] - first == pytest.approx(40, abs=0.01)  # b's own wait, not a's


async def test_a_record_left_behind_a_full_batch_waits_from_its_own_arrival(spool):
    sink = KeyedSink(spool, batch_timeout=30)
    loop = asyncio.get_running_loop()
    async with running(sink):
        await store(spool, "a1")
        await asyncio.sleep(20)
        arrived = loop.time()
        await store(spool, "a2", "a3")  # a1, a2 fill a batch at once; a3 is left behind
        await sink.until_started("a1")
        assert sink.started_at["a1"] == pytest.approx(arrived, abs=0.01)
        sink.answer("a1")

        await sink.until_started("a3")
        sink.answer("a3")
        await until(lambda: sink.idle.is_set())

    assert sink.started_at["a3"] - arrived == pytest.approx(30, abs=0.01)


async def test_a_draining_agent_sends_a_waiting_batch_at_once(spool):
    await store(spool, "a1")
    sink = KeyedSink(spool, batch_timeout=3600)
    loop = asyncio.get_running_loop()
    async with running(sink):
        await asyncio.sleep(3000)
        assert sink.started == []

        drained = loop.time()
        sink.drain()
        await sink.until_started("a1")
        sink.answer("a1")
        await until(lambda: sink.idle.is_set())

    assert sink.started_at["a1"] == pytest.approx(drained, abs=0.01)


async def test_a_stopped_run_leaves_exactly_what_was_not_acknowledged_to_the_next(spool):
    sink = KeyedSink(spool, per_partition=2)
    async with running(sink):
        await two_reads_in_flight(spool, sink)
        sink.answer("a1")
        await until(lambda: ["a1", "a2"] in sink.sent)

    again = KeyedSink(spool, per_partition=2)
    async with running(again):
        await again.until_started("b1")
        again.answer("b1")
        await until(lambda: again.idle.is_set())

    assert again.sent == [["b1", "b2"]]


async def test_records_that_arrive_while_a_batch_is_in_flight_go_at_once_when_the_bound_allows(spool):
    sink = KeyedSink(spool, per_partition=2)
    async with running(sink):
        await store(spool, "a1", "a2")
        await sink.until_started("a1")
        await store(spool, "a3", "a4")

        await sink.until_started("a3")  # a1 is still in flight: a3 did not wait for it
        sink.answer("a1")
        sink.answer("a3")
        await until(lambda: sink.idle.is_set())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abc"), min_size=1, max_size=5), min_size=1, max_size=5),
       st.integers(1, 3), st.randoms(use_true_random=False))
def test_whatever_order_batches_are_answered_in_the_cursor_never_passes_an_unanswered_record(reads, per_key, rng):
    asyncio.run(answer_in_any_order(reads, per_key, rng))


async def answer_in_any_order(reads: list[list[str]], per_key: int, rng) -> None:
    with tempfile.TemporaryDirectory() as directory:
        spool = open_spool(Path(directory))
        place: dict[str, Position] = {}
        messages = []
        for keys in reads:
            batch = [f"{key}{len(messages) + n}" for n, key in enumerate(keys)]
            await store(spool, *batch)
            block = spool.tail().block - 1
            place.update({m: Position(block, i) for i, m in enumerate(batch)})
            messages += batch
        sink = KeyedSink(spool, per_partition=per_key)
        async with running(sink):
            while not sink.idle.is_set():
                await until(lambda: sink.idle.is_set() or any(not f.done() for f in sink.answers.values()))
                open_ = [first for first, future in sink.answers.items() if not future.done()]
                if not open_:
                    continue
                sink.answer(rng.choice(open_))
                await asyncio.sleep(0)
                unanswered = [place[first] for first, future in sink.answers.items() if not future.done()]
                waiting = [place[m] for key in sink.keys.values() for m, _, _ in key.records]
                if unanswered or waiting:
                    assert spool.cursor("out") <= min(unanswered + waiting)
        delivered = [m for batch in sink.sent for m in batch]
        assert sorted(delivered) == sorted(messages)  # each record once
        order = {m: n for n, m in enumerate(messages)}
        for key in "abc":  # a key's batches start in spool order (with per_key > 1 they may finish in any)
            starts = [order[m] for m in sink.started if m[0] == key]
            assert starts == sorted(starts)
        assert spool.cursor("out") == spool.tail()
        spool.close()

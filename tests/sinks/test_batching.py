"""The one-partition form of the delivery engine (sinks/batching.py, sinks/acks.py), on a real spool with
a `send` the test answers: the cursor never passes a batch still in flight, requests in flight stay
within their bound, a batch that is not full waits for its timeout (counted from its first record)
unless the agent drains, and a restarted run sends again exactly what was not acknowledged. The async
tests run on a virtual clock (looptime)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.config.base import SinkOptions
from shipper.sinks.batching import BatchingSink
from tests.sinks.harness import SOURCE, running, store, until

pytestmark = pytest.mark.looptime


@dataclass
class Batch:
    messages: list[str]
    end: Position


@dataclass
class EveryN:
    """Cuts batches of `size` records; the last one stays open until it is full or taken."""

    size: int
    opened_at: float = 0.0
    open: list[str] = field(default_factory=list)
    open_end: Position = field(default_factory=lambda: Position(0, 0))

    @property
    def holding(self) -> bool:
        return bool(self.open)

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[Batch]:
        for block in blocks:
            for index in range(block.start, len(block.messages)):
                if not self.open:
                    self.opened_at = now
                self.open.append(block.messages[index])
                self.open_end = Position(block.id, index + 1)
                if len(self.open) == self.size:
                    yield self._take()

    def take(self) -> Batch | None:
        return self._take() if self.open else None

    def _take(self) -> Batch:
        batch, self.open = Batch(self.open, self.open_end), []
        return batch


class AnsweredSink(BatchingSink[Batch]):
    """`send` waits until the test answers the batch (by its first message)."""

    def __init__(self, spool: Spool, *, batch_size: int = 2, in_flight: int = 4, batch_timeout: float = 60.0):
        super().__init__("out", SinkOptions(type="test", inputs=[SOURCE]), spool, EveryN(batch_size),
                         in_flight=in_flight, batch_timeout=batch_timeout, read_records=100)
        self.sending: dict[str, asyncio.Future[None]] = {}
        self.started = asyncio.Event()
        self.most_in_flight = 0
        self.sent: list[list[str]] = []
        self.sent_at: dict[str, float] = {}  # on the loop's clock

    async def send(self, batch: Batch) -> None:
        answer = self.sending[batch.messages[0]] = asyncio.get_running_loop().create_future()
        self.sent_at[batch.messages[0]] = asyncio.get_running_loop().time()
        self.most_in_flight = max(self.most_in_flight, sum(not f.done() for f in self.sending.values()))
        self.started.set()
        await answer
        self.sent.append(batch.messages)

    def answer(self, first_message: str, failure: BaseException | None = None) -> None:
        future = self.sending[first_message]
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(failure)

    async def until_sending(self, *first_messages: str) -> None:
        while not set(first_messages) <= set(self.sending):
            self.started.clear()
            await self.started.wait()


async def test_the_cursor_moves_only_past_batches_whose_earlier_batches_are_answered_too(spool):
    await store(spool, *"abcdef")
    start = spool.cursor("out")
    sink = AnsweredSink(spool)
    async with running(sink):
        await sink.until_sending("a", "c", "e")

        sink.answer("e")
        sink.answer("c")
        await until(lambda: sink.sent == [["e", "f"], ["c", "d"]])
        assert spool.cursor("out") == start  # "a" is still in flight

        sink.answer("a")
        await until(lambda: sink.idle.is_set())
        assert spool.cursor("out") >= Position(start.block, 6)


async def test_requests_in_flight_never_exceed_the_bound(spool):
    await store(spool, *"abcdefghij")
    sink = AnsweredSink(spool, in_flight=2)
    async with running(sink):
        for first in "acegi":
            await sink.until_sending(first)
            assert sum(not f.done() for f in sink.sending.values()) <= 2
            sink.answer(first)
        await until(lambda: sink.idle.is_set())

    assert sink.most_in_flight == 2
    assert [m for batch in sink.sent for m in batch] == list("abcdefghij")


async def test_a_batch_that_is_not_full_goes_when_its_first_record_has_waited_the_timeout(spool):
    sink = AnsweredSink(spool, batch_size=10, batch_timeout=30)
    loop = asyncio.get_running_loop()
    async with running(sink):
        first = loop.time()
        await store(spool, "a")
        await asyncio.sleep(20)
        await store(spool, "b")  # joins the open batch; its wait does not start again
        await sink.until_sending("a")
        sink.answer("a")
        await until(lambda: sink.idle.is_set())

    assert sink.sent == [["a", "b"]]
    assert sink.sent_at["a"] - first == pytest.approx(30, abs=0.01)


async def test_a_draining_agent_sends_a_batch_that_is_not_full_at_once(spool):
    await store(spool, "a")
    sink = AnsweredSink(spool, batch_size=10, batch_timeout=3600)
    sink.drain()
    async with running(sink):
        await asyncio.wait_for(sink.until_sending("a"), 5)


async def test_a_run_that_fails_leaves_unanswered_batches_to_the_next_run_and_nothing_else(spool):
    await store(spool, *"abcdef")
    sink = AnsweredSink(spool)
    async with running(sink) as task:
        await sink.until_sending("a", "c", "e")
        sink.answer("a")
        sink.answer("e")
        await until(lambda: len(sink.sent) == 2)
        sink.answer("c", RuntimeError("a bug of ours"))
        with pytest.raises(RuntimeError, match="a bug of ours"):
            await task

    again = AnsweredSink(spool)
    async with running(again):
        await again.until_sending("c", "e")
        again.answer("c")
        again.answer("e")
        await until(lambda: again.idle.is_set())

    assert again.sent == [["c", "d"], ["e", "f"]]  # "a, b" was acknowledged; "e, f" waited behind "c"


async def test_a_sink_is_not_idle_while_a_batch_that_is_not_full_waits_for_its_timeout(spool):
    await store(spool, "a")
    sink = AnsweredSink(spool, batch_size=10, batch_timeout=30)
    async with running(sink):
        await asyncio.sleep(29.9)  # read to the tail; the batch is open
        assert not sink.idle.is_set()

        await sink.until_sending("a")
        sink.answer("a")
        await until(lambda: sink.idle.is_set())


async def test_once_everything_is_delivered_the_cursor_is_at_the_tail_so_the_blocks_can_go(spool):
    await store(spool, *"abc")
    sink = AnsweredSink(spool, batch_size=2, batch_timeout=0.05)
    async with running(sink):
        await sink.until_sending("a", "c")
        sink.answer("a")
        sink.answer("c")
        await until(lambda: sink.idle.is_set())

    assert spool.cursor("out") == spool.tail()

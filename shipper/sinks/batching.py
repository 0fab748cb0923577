"""Sinks whose records all go one way (http, firehose, kinesis_streams, console, syslog): one partition
of the delivery engine (engine.py), cut into batches by the sink's builder.

A builder cuts what the sink reads into batches; its last batch stays open until it is full or taken
(at the batch timeout). Each batch is acknowledged at its end once it and every batch before it was
accepted (acks.py): a crash sends again the batches that were in flight, and nothing else.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.config.base import SinkOptions
from shipper.observe import metrics
from shipper.sinks.acks import AckTracker
from shipper.sinks.engine import Acks, DeliverySink, clock


class Batch(Protocol):
    @property
    def end(self) -> Position: ...


B = TypeVar("B", bound=Batch)
B_co = TypeVar("B_co", bound=Batch, covariant=True)


class Builder(Protocol[B_co]):
    """Cuts blocks into batches; the last one stays open until it is full or taken."""

    opened_at: float  # when the open batch got its first record, on the engine's clock

    @property
    def holding(self) -> bool: ...

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[B_co]: ...

    def take(self) -> B_co | None: ...


@dataclass(slots=True)
class Read:
    """What one read of the spool returned, sent as one batch."""

    blocks: list[StoredBlock]
    start: Position
    end: Position


class EveryRead:
    """The builder of sinks that send what each read returns as one batch (console, syslog)."""

    opened_at = 0.0
    holding = False

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[Read]:
        yield Read(blocks, Position(blocks[0].id, blocks[0].start), blocks[-1].end())

    def take(self) -> Read | None:
        return None


class OnePartition(Generic[B]):
    """The sink's records: batches cut and waiting, and the builder's open one. Each batch is its own
    ack segment, ending where the batch ends: a crash sends again only the batches in flight."""

    def __init__(self, builder: Builder[B], acks: AckTracker):
        self.builder = builder
        self.acks = acks
        self.cut: deque[tuple[B, Acks]] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._passed: Position | None = None  # a tail passed while the open batch held records before it

    @property
    def since(self) -> float | None:
        return self.builder.opened_at if self.builder.holding else None

    def waiting(self) -> bool:
        return bool(self.cut) or self.builder.holding

    def full(self) -> bool:
        return bool(self.cut)

    def add(self, blocks: list[StoredBlock]) -> None:
        self._passed = None  # the batch that takes these blocks ends past it
        for batch in self.builder.add(blocks, clock()):
            self._cut(batch)

    def take(self) -> tuple[B, Acks] | None:
        if not self.cut:
            batch = self.builder.take()
            if batch is not None:
                self._cut(batch)
            if self._passed is not None:
                self.pass_to(self._passed)
        return self.cut.popleft() if self.cut else None

    def pass_to(self, position: Position) -> None:
        """Nothing for the sink up to `position` but what was read; with a batch still open, the cursor
        passes it once that batch is cut and acknowledged."""
        self._passed = position if self.builder.holding else None
        if self._passed is None:
            self.acks.seal(self.acks.open(position), 0)

    def _cut(self, batch: B) -> None:
        segment = self.acks.open(batch.end)
        self.acks.seal(segment, 1)
        self.cut.append((batch, {segment: 1}))


class BatchingSink(DeliverySink[OnePartition[B], B]):
    def __init__(self, sink_id: str, options: SinkOptions, spool: Spool, builder: Builder[B], *,
                 in_flight: int, batch_timeout: float, read_records: int, read_ahead: int | None = None):
        super().__init__(sink_id, options, spool, batch_timeout=batch_timeout, per_partition=in_flight,
                         read_records=read_records)
        self.builder = builder
        self.read_ahead = read_ahead or in_flight  # batches cut and waiting at most: then the reader waits
        self.queue = OnePartition(builder, self.acks)

    @abstractmethod
    async def send(self, batch: B) -> None:
        """Deliver `batch`, retrying as long as it takes; return once it is accepted (or discarded, counted)."""

    def discard(self, events: int, reason: str, message: str) -> None:
        """Records the backend will never take: counted by reason and logged (`message` has one %d)."""
        metrics.events_discarded.labels(*self.labels, reason).inc(events)
        self.log.error(message, events)

    def recover(self) -> None:
        self.builder.take()  # a batch left open by a run that failed is read again
        self.queue = OnePartition(self.builder, self.acks)

    def route(self, blocks: list[StoredBlock], end: Position) -> Iterable[OnePartition[B]]:
        self.queue.add(blocks)
        self.queue.pass_to(end)  # a batch may end at the last record, not at the read's end: the block's
        return (self.queue,)

    def partitions(self) -> Iterable[OnePartition[B]]:
        return (self.queue,)

    def pass_to(self, position: Position) -> None:
        self.queue.pass_to(position)

    def next_batch(self, partition: OnePartition[B]) -> tuple[B, Acks] | None:
        return partition.take()

    async def deliver(self, partition: OnePartition[B], batch: B) -> None:
        await self.send(batch)

    def holding_too_much(self) -> bool:
        return len(self.queue.cut) >= self.read_ahead

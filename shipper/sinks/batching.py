"""Sinks that cut what they read into batches and send up to N of them at once (http, firehose,
kinesis_streams): the read loop, the batch timeout, the request slots and the in-order acknowledgement.

Guarantee: a batch's records are acknowledged to the spool once `send` returned for it and for every
batch before it (acks.py): a crash sends again the batches that were in flight, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import abstractmethod
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.config.base import SinkOptions
from shipper.observe import metrics
from shipper.observe.logs import WarningPace
from shipper.sinks.acks import AckTracker
from shipper.sinks.base import Sink


class Batch(Protocol):
    @property
    def end(self) -> Position: ...


B = TypeVar("B", bound=Batch)
B_co = TypeVar("B_co", bound=Batch, covariant=True)


class Builder(Protocol[B_co]):
    """Cuts blocks into batches; the last one stays open until it is full or taken."""

    opened_at: float  # monotonic time the open batch got its first record

    @property
    def holding(self) -> bool: ...

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[B_co]: ...

    def take(self) -> B_co | None: ...


class BatchingSink(Sink, Generic[B]):
    def __init__(self, sink_id: str, options: SinkOptions, spool: Spool, builder: Builder[B], *,
                 in_flight: int, batch_timeout: float, read_records: int):
        super().__init__(sink_id, options, spool)
        self.builder = builder
        self.in_flight, self.batch_timeout, self.read_records = in_flight, batch_timeout, read_records
        self._slots = asyncio.Semaphore(in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # a request finished with everything acknowledged, or failed
        self._failure: BaseException | None = None
        self._acks = AckTracker(spool, sink_id, self._wake.set)
        self._retry_warnings = WarningPace()

    @abstractmethod
    async def send(self, batch: B) -> None:
        """Deliver `batch`, retrying as long as it takes; return once it is accepted (or discarded, counted)."""

    def retried_since_said(self, reason: str) -> int | None:
        """Count one retried request for `reason`; at most once per REPEAT_WINDOW (10 s) and reason, how
        many were retried for it since it was last said (None: not time to say it again)."""
        return self._retry_warnings.due(reason)

    def discard(self, events: int, reason: str, message: str) -> None:
        """Records the backend will never take: counted by reason and logged (`message` has one %d)."""
        metrics.events_discarded.labels(*self.labels, reason).inc(events)
        self.log.error(message, events)

    async def run(self) -> None:
        position = self.spool.cursor(self.id)
        self._acks = AckTracker(self.spool, self.id, self._wake.set)  # a restarted run starts from the spool
        self.builder.take()
        try:
            while True:
                blocks = self.spool.read(self.id, position, self.read_records)
                if blocks:
                    self.count_received(blocks)
                    for full in self.builder.add(blocks, time.monotonic()):
                        await self._dispatch(full)
                    position = blocks[-1].end()
                    continue
                if self.builder.holding:
                    deadline = self.builder.opened_at + self.batch_timeout
                    left = 0.0 if self.draining else deadline - time.monotonic()
                    if left <= 0 or not await self._wait(position, left):
                        batch = self.builder.take()
                        assert batch is not None
                        await self._dispatch(batch)
                    continue
                if self._acks.empty:
                    position = max(position, self.spool.tail())
                    self.spool.ack(self.id, position)
                    self.idle.set()
                await self._wait(position)
                self.idle.clear()
        finally:
            await self._cancel_in_flight()

    async def _wait(self, position: Position, timeout: float | None = None) -> bool:
        """Until records come after `position` (True), a request finishes the acknowledgements or
        fails, or `timeout` passes (False)."""
        appended = asyncio.ensure_future(self.spool.wait_for_append(position))
        woken = asyncio.ensure_future(self._wake.wait())
        done, pending = await asyncio.wait({appended, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        self._wake.clear()
        self._raise_failure()
        return appended in done

    async def _dispatch(self, batch: B) -> None:
        """Send `batch` once a request slot is free; its place in the acknowledgement order is taken now."""
        await self._slots.acquire()
        self._raise_failure()
        number = self._acks.open(batch.end)
        self._acks.seal(number, 1)
        task = asyncio.create_task(self._deliver(batch, number))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    async def _deliver(self, batch: B, number: int) -> None:
        try:
            await self.send(batch)
            self._acks.done({number: 1})
        finally:
            self._slots.release()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()  # a bug of ours: the run fails and is restarted from the spool
            self._wake.set()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    async def _cancel_in_flight(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        for task in list(self._in_flight):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._in_flight.clear()
        self._slots = asyncio.Semaphore(self.in_flight)

    async def close(self) -> None:
        await self._cancel_in_flight()

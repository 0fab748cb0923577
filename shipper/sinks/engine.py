"""The one delivery loop of every sink: read the spool, route each record to its partition, send each
partition's batches in order, acknowledge in spool order.

Shaped like Vector's partitioned batcher driving a service. A sink says where records go (`route`:
a CloudWatch stream, or the one partition of a sink without keys), what a partition's next batch is
(`next_batch`) and how one is sent (`deliver`); the engine does the rest:
- one reader reads the spool in *segments* (one read each), routes them, and waits for appends at the
  tail. It pauses while the sink holds as much in memory as it may (`holding_too_much`);
- one worker per partition with records sends a batch when it is full (`Partition.full`), when its
  oldest record has waited `batch_timeout`, or at once while the agent drains; at most
  `per_partition` batches of a partition are in flight, started in order (a sink bounds requests
  over all partitions itself, around each call, so a partition backing off holds no slot);
- a partition the sink holds back (`held`: CloudWatch's parked streams) is left to `while_held`
  once what it has in flight has finished.

Guarantee: the cursor passes a record only once `deliver` has returned for its batch and for every
batch holding earlier records (acks.py): a crash sends again what was in flight and nothing else. A
failing worker (a bug of ours: `deliver` retries everything that can be retried) fails the run,
which the agent starts again from the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.config.base import SinkOptions
from shipper.sinks.acks import AckTracker
from shipper.sinks.base import Sink


class Partition(Protocol):
    """Records of one key waiting to leave, in spool order."""

    wake: asyncio.Event  # set when records arrive or the partition should look again
    task: asyncio.Task[None] | None  # its worker (the engine's)

    @property
    def since(self) -> float | None:
        """When its oldest waiting record arrived, on `clock()`; None while nothing waits."""
        ...

    def waiting(self) -> bool:
        """Records wait to be taken into a batch."""
        ...

    def full(self) -> bool:
        """A full batch can be taken now."""
        ...


P = TypeVar("P", bound=Partition)
B = TypeVar("B")
Acks = Mapping[int, int]  # records (or events) of a batch per read segment: what its delivery acknowledges


class DeliverySink(Sink, Generic[P, B]):
    def __init__(self, sink_id: str, options: SinkOptions, spool: Spool, *, batch_timeout: float,
                 per_partition: int, read_records: int):
        super().__init__(sink_id, options, spool)
        self.batch_timeout, self.per_partition, self.read_records = batch_timeout, per_partition, read_records
        self.acks = AckTracker(spool, sink_id, self._all_acknowledged)
        self._room = asyncio.Event()  # a batch finished: the reader may read on
        self._at_tail = False
        self._crashed: asyncio.Future[None] | None = None

    # -- what a sink supplies ----------------------------------------------------------------------

    @abstractmethod
    def route(self, blocks: list[StoredBlock], end: Position) -> Iterable[P]:
        """Put the records of `blocks` (read up to `end`) into their partitions, opening and sealing their
        segments in `self.acks`; returns the partitions that got records."""

    @abstractmethod
    def partitions(self) -> Iterable[P]:
        """Every partition the sink holds now."""

    @abstractmethod
    def next_batch(self, partition: P) -> tuple[B, Acks] | None:
        """The partition's next batch and what its delivery acknowledges; None: not one to send yet."""

    @abstractmethod
    async def deliver(self, partition: P, batch: B) -> None:
        """Send `batch`, retrying as long as it takes; return once it is accepted (or discarded, counted)."""

    def delivered(self, batch: B) -> None:
        """`batch` left (it is being acknowledged): release what it held."""

    def holding_too_much(self) -> bool:
        """The sink holds as much as it may in memory: the reader waits for a batch to finish."""
        return False

    def held(self, partition: P) -> bool:
        """The partition is held back from sending its batches (see `while_held`)."""
        return False

    async def while_held(self, partition: P) -> None:
        """One step of a held partition, called once nothing of it is in flight."""
        raise NotImplementedError

    def pass_to(self, position: Position) -> None:
        """Nothing for this sink before `position` but what was read: the cursor may pass it once that
        is acknowledged."""
        self.acks.seal(self.acks.open(position), 0)

    def recover(self) -> None:
        """Load what the sink kept across a stop, before the first read."""

    def stopped(self) -> None:
        """The run ended: forget the partitions (the next run reads from the cursor)."""

    # -- the engine ---------------------------------------------------------------------------------

    async def run(self) -> None:
        self.acks = AckTracker(self.spool, self.id, self._all_acknowledged)  # a new run starts from the spool
        self._crashed = asyncio.get_running_loop().create_future()
        self.recover()
        for partition in self.partitions():
            if partition.waiting() or self.held(partition):
                self._start(partition)
        reader = asyncio.ensure_future(self._read())
        try:
            await asyncio.wait({reader, self._crashed}, return_when=asyncio.FIRST_COMPLETED)
            if self._crashed.done():
                raise self._crashed.exception() or RuntimeError("a partition's worker failed")
            await reader
        finally:
            reader.cancel()
            await self._stop_workers()
            self.stopped()

    def drain(self) -> None:
        super().drain()
        for partition in self.partitions():
            partition.wake.set()

    def made_room(self) -> None:
        """Memory was released outside a delivery (a batch written, not yet settled): the reader may read on."""
        self._room.set()

    def acknowledge(self, batch: B, acks: Acks) -> None:
        """`batch` is done with (delivered, or set aside by the sink): release what it held, let the reader
        on, and count its records acknowledged."""
        self.delivered(batch)
        self._room.set()
        self.acks.done(acks)

    async def _read(self) -> None:
        position = self.spool.cursor(self.id)
        while True:
            while self.holding_too_much():
                self._room.clear()
                await self._room.wait()
            blocks = self.spool.read(self.id, position, self.read_records)
            if blocks:
                self._at_tail = False
                self.idle.clear()
                position = blocks[-1].end()
                self.count_received(blocks)
                for partition in self.route(blocks, position):
                    self._start(partition)
                    partition.wake.set()
                continue
            tail = self.spool.tail()
            if tail > position:  # only blocks of sources this sink does not take: pass them
                position = tail
                self.pass_to(position)
            self._at_tail = True
            self._all_acknowledged()
            await self.spool.wait_for_append(position)

    def _all_acknowledged(self) -> None:
        """Idle: read to the tail, every segment acknowledged, and no record waiting for a batch."""
        if self._at_tail and self.acks.empty and not any(p.waiting() for p in self.partitions()):
            self.idle.set()

    def _start(self, partition: P) -> None:
        if partition.task is None or partition.task.done():
            partition.task = asyncio.create_task(self._work(partition))
            partition.task.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        failure = None if task.cancelled() else task.exception()
        if failure is not None and self._crashed is not None and not self._crashed.done():
            self._crashed.set_exception(failure)

    async def _work(self, partition: P) -> None:
        """Send the partition's batches in order, up to `per_partition` at once, while it has any."""
        sending: set[asyncio.Task[None]] = set()
        try:
            while partition.waiting() or sending or self.held(partition):
                held = self.held(partition)
                if held or not partition.waiting():
                    if sending and held:  # a held partition waits for what is in flight before its own step
                        await _reap(sending, all_of_them=True)
                    elif sending:
                        await _reap(sending, or_records_for=partition)
                    elif held:
                        await self.while_held(partition)
                    continue
                if not self.due(partition):
                    await self._until_due(partition)
                    continue
                taken = self.next_batch(partition)
                if taken is None:
                    partition.wake.clear()
                    await partition.wake.wait()
                    continue
                sending.add(asyncio.create_task(self._deliver(partition, *taken)))
                while len(sending) >= self.per_partition:
                    await _reap(sending)
        finally:
            for task in sending:
                task.cancel()

    def due(self, partition: P) -> bool:
        """A batch of the partition may go now: it is full, its oldest record has waited `batch_timeout`,
        or the agent drains."""
        since = partition.since
        return (self.draining or partition.full()
                or (since is not None and clock() - since >= self.batch_timeout))

    async def _until_due(self, partition: P) -> None:
        """Until records arrive, the batch timeout passes, or the agent drains."""
        partition.wake.clear()
        since = partition.since
        timeout = None if since is None else max(0.0, since + self.batch_timeout - clock())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(partition.wake.wait(), timeout)

    async def _deliver(self, partition: P, batch: B, acks: Acks) -> None:
        await self.deliver(partition, batch)
        self.acknowledge(batch, acks)

    async def _stop_workers(self) -> None:
        tasks = [p.task for p in self.partitions() if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for partition in self.partitions():
            partition.task = None


def clock() -> float:
    """The engine's clock: the running event loop's, which is monotonic. Every timeout of the engine and of
    the sinks on it is on this clock, so a test's virtual-time loop moves them all at once."""
    return asyncio.get_running_loop().time()


async def _reap(sending: set[asyncio.Task[None]], all_of_them: bool = False,
                or_records_for: Partition | None = None) -> None:
    """Wait for one (or every) delivery in flight, or for records to arrive in `or_records_for`; a
    delivery's failure is its worker's."""
    waiting: set[asyncio.Future[Any]] = set(sending)
    if or_records_for is not None:
        or_records_for.wake.clear()
        waiting.add(asyncio.ensure_future(or_records_for.wake.wait()))
    done, pending = await asyncio.wait(waiting, return_when=asyncio.ALL_COMPLETED if all_of_them
                                       else asyncio.FIRST_COMPLETED)
    for future in pending - sending:
        future.cancel()
    sending.difference_update(done)
    for future in done:
        future.result()

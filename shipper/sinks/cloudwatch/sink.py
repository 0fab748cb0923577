"""`cloudwatch_logs`: records leave the spool here for CloudWatch Logs.

Flow: the delivery engine (sinks/engine.py) reads segments of the spool; `route` puts each record's
events into the queue of its (group, stream) (routing.py); each stream's batches go in order, up to
`max_requests_per_stream` at once, under `max_requests_in_flight` calls over all streams
(service.py); the engine acknowledges a segment once every event of it is delivered. Each batch's
ledger row is saved before it is sent: after a crash, a batch that may have landed is read back
instead of sent twice (reconcile.py).

Isolation: a stream CloudWatch refuses for a reason that retrying soon will not fix while other
streams of the sink deliver is *parked* (parking.py): its batches wait in the spool's parked area and
the other streams go on. When no other stream delivers, the refusal is the sink's problem
(credentials, a policy denying everything): the sink is not ready and records wait in the spool, as
for any error that needs an operator. A missing stream (and group) is made when allowed (streams.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from shipper.buffer.parked import ParkedRow
from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.observe import metrics
from shipper.sinks.aws.errors import error_code
from shipper.sinks.base import count_sent
from shipper.sinks.cloudwatch import reconcile
from shipper.sinks.cloudwatch.batch import Batch, event_time
from shipper.sinks.cloudwatch.client import CloudWatchLogs
from shipper.sinks.cloudwatch.config import EVENT_OVERHEAD
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions as Options
from shipper.sinks.cloudwatch.parking import PARKED_SENDING, Parking, StreamRefused
from shipper.sinks.cloudwatch.reconcile import BatchRow
from shipper.sinks.cloudwatch.routing import Router
from shipper.sinks.cloudwatch.service import CloudWatchService
from shipper.sinks.cloudwatch.streams import StreamQueue
from shipper.sinks.engine import Acks, DeliverySink, clock
from shipper.sinks.retry import Failure, Retry

READ_RECORDS = 10_000  # records per spool read (one segment)
MAX_PENDING_EVENTS = 30_000  # events held in memory across all stream queues...
MAX_PENDING_BYTES = 12 * 1024 * 1024  # ... and their bytes: enough to keep every request slot busy

Sending = tuple[Batch, BatchRow | None]  # a batch, and its ledger row when it was recorded before a restart


class CloudWatchLogsSink(DeliverySink[StreamQueue, Sending]):
    options: Options

    def __init__(self, sink_id: str, options: Options, spool: Spool):
        super().__init__(sink_id, options, spool, batch_timeout=options.batch_timeout,
                         per_partition=options.max_requests_per_stream, read_records=READ_RECORDS)
        self.client = CloudWatchLogs(sink_id, options)
        self.service = CloudWatchService(self, self.client, options, self._refused)
        self.router = Router(options, self.labels)
        self.queues = self.router.queues  # the streams by (group, stream)
        self.parking = Parking(spool, sink_id, self.labels, self.log,
                               options.parked_max_size or spool.max_size // 4, self.queues)
        self._pending = 0
        self._pending_bytes = 0
        self._routed = Position(0, 0)  # the end of the last read routed
        self._awaiting_routing: set[StreamQueue] = set()
        self._billed = metrics.bytes_billed.labels(*self.labels)

    async def open(self) -> None:
        await self.client.open()

    async def close(self) -> None:
        await self.client.close()

    # -- what goes where ----------------------------------------------------------------------------

    def route(self, blocks: list[StoredBlock], end: Position) -> Iterable[StreamQueue]:
        segment = self.acks.open(end)
        touched, records, events, size = self.router.route(blocks, segment, self._busy)
        self.received_events.inc(records)
        self.received_bytes.inc(size)  # the events' bytes, as routed
        self._pending += events
        self._pending_bytes += size
        self._routed = end
        now = clock()
        for queue in touched:
            if queue.since is None:
                queue.since = now
        self.acks.seal(segment, events)
        return touched | self._awaiting_routing

    def count_received(self, blocks: list[StoredBlock]) -> None:
        """Counted by `route`, from what routing measured anyway."""

    def partitions(self) -> Iterable[StreamQueue]:
        return self.queues.values()

    def holding_too_much(self) -> bool:
        return self._full() and not self._awaiting_routing

    def _full(self) -> bool:
        return self._pending >= MAX_PENDING_EVENTS or self._pending_bytes >= MAX_PENDING_BYTES

    def _busy(self, queue: StreamQueue) -> bool:
        """A batch of the stream in flight, or waiting for the rest of a recorded batch to be read."""
        return (queue.task is not None and not queue.task.done()) or queue in self._awaiting_routing

    def next_batch(self, queue: StreamQueue) -> tuple[Sending, Acks] | None:
        """The next batch of the stream: as recorded before a restart if it was, else as many as fit."""
        batch, row = self._take(queue)
        if not batch:
            return None
        queue.since = clock() if queue.pending else None
        return (batch, row), batch.segments()

    def _take(self, queue: StreamQueue) -> tuple[Batch | None, BatchRow | None]:
        self._awaiting_routing.discard(queue)
        while queue.recovered:
            row = queue.recovered[0]
            head = queue.pending.head()
            if head > row.last:
                queue.recovered.popleft()  # its records were acknowledged
                continue
            if head < row.first:  # names or order changed since (new configuration): send as new
                self.log.warning("batches recorded for %s/%s no longer match the spool; sending them again",
                                 queue.group, queue.stream)
                queue.recovered.clear()
                break
            if (row.last[0], row.last[1]) >= tuple(self._routed):
                self._awaiting_routing.add(queue)  # the rest of the batch is not read yet
                return None, None
            queue.recovered.popleft()
            return queue.pending.take(queue.pending.count_through(row.last)), row
        return queue.pending.take(), None

    # -- delivery -----------------------------------------------------------------------------------

    async def deliver(self, queue: StreamQueue, sending: Sending) -> None:
        batch, row = sending
        maybe_landed = row is not None
        events = batch.chronological()
        if row is None:
            row = reconcile.row_for(queue.group, queue.stream, batch, events, queue.previous)
            self.spool.save_sink_state(self.id, row.key, row.encode())
            self.acks.forget_when_acked(row.last[0], row.last[1], row.key)
        queue.previous = events  # what the next batch's row compares with, even while this one is in flight
        if not row.landed:
            try:
                await self.service.put(queue, events, row.overlap, maybe_landed, batch.entity)
            except StreamRefused as refused:
                self.parking.park_stream(queue, str(refused))
                self.parking.set_aside(queue, batch)  # out of the sink's way: acknowledged as done
                return
        count_sent(self, batch.records, batch.size)  # a split record counts once
        self._billed.inc(batch.size + EVENT_OVERHEAD * len(batch))
        row.landed = True
        if not self.acks.forgotten(row.key):
            self.spool.save_sink_state(self.id, row.key, row.encode())

    def delivered(self, sending: Sending) -> None:
        batch = sending[0]
        self._pending -= len(batch)
        self._pending_bytes -= batch.size

    def _refused(self, queue: StreamQueue, error: Exception) -> Exception:
        """StreamRefused (park it) when the refusal is this stream's (parking.py); else a Retry for the
        refusal: the sink's own problem (a policy that denies every group), reported, with the records
        kept in the spool."""
        if self.parking.is_the_streams(queue, holds_the_reader=self._full()):
            return StreamRefused(f"{error_code(error)}: {error}")
        return Retry.for_call(Failure.REFUSED, error)

    # -- parked streams -----------------------------------------------------------------------------

    def held(self, queue: StreamQueue) -> bool:
        return queue.parked is not None

    async def while_held(self, queue: StreamQueue) -> None:
        """One step of a parked stream: park what is due; once its time has come, try the oldest
        parked batch again; the stream delivers again when its parked area is empty. While the agent
        stops, parked records wait for the next start."""
        if queue.pending and self.due(queue):
            taken = self.next_batch(queue)
            if taken is not None:
                sending, acks = taken
                self.parking.set_aside(queue, sending[0])
                self.acknowledge(sending, acks)
                return
        now = clock()
        if self.draining or now < queue.retry_at:
            due = [queue.retry_at] if not self.draining else []
            if queue.since is not None:
                due.append(queue.since + self.batch_timeout)
            queue.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.wake.wait(), max(0.0, min(due) - now) if due else None)
            return
        row = self.parking.next_row(queue)
        if row is None:
            self.parking.delivers_again(queue)
            return
        await self._send_parked(queue, row)

    async def _send_parked(self, queue: StreamQueue, row: ParkedRow) -> None:
        maybe_landed = self.parking.sending(row)
        events = sorted(row.items, key=event_time)
        try:
            await self.service.put(queue, events, [], maybe_landed)
        except StreamRefused as refused:
            self.parking.park_stream(queue, str(refused))
            return
        self.parking.sent(row)
        count_sent(self, len(row.items), sum(len(e["message"]) for e in row.items))

    def retry_parked(self) -> None:
        """Try every parked stream again now (a SIGHUP: the operator may have fixed the cause)."""
        self.parking.retry_all()

    def parked_streams(self) -> dict[str, str]:
        """`group/stream` -> why, for every stream parked now."""
        return self.parking.parked_streams()

    # -- restart ------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Load the rows of batches sent before the last stop, to skip the ones that landed."""
        self._routed = self.spool.cursor(self.id)
        rows = sorted((BatchRow.decode(v) for k, v in self.spool.sink_state(self.id).items()
                       if not k.startswith(PARKED_SENDING)), key=lambda r: r.first)
        for row in rows:
            queue = self.router.queue_named(row.group, row.stream)
            queue.recovered.append(row)
            self.acks.forget_when_acked(row.last[0], row.last[1], row.key)
        if rows:
            self.log.info("%d batch(es) were in flight or unacknowledged at the last stop; checking them",
                          len(rows))
        self.parking.recover(self.router.queue_named)

    def stopped(self) -> None:
        self.queues.clear()
        self._awaiting_routing.clear()
        self._pending = self._pending_bytes = 0

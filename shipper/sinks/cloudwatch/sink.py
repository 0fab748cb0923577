"""`cloudwatch_logs`: records leave the spool here for CloudWatch Logs.

Flow: the reader takes segments of the spool and routes each record's events to the queue of its
(group, stream); one worker per stream sends that queue's batches one at a time (order kept),
under a bound on requests in flight over all streams; the ack tracker moves the spool cursor once
every event of a segment is delivered. See reconcile.py for how a crash avoids duplicates.

Isolation: a stream CloudWatch refuses for a reason that retrying soon will not fix while other
streams of the sink deliver is *parked* (parking.py): its batches wait in the spool's parked area and
the other streams go on. When no other stream delivers, the refusal is the sink's problem
(credentials, a policy denying everything): the sink is not ready and records wait in the spool, as
for any error that needs an operator. A missing stream (and group) is made when allowed (streams.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Any

from shipper.buffer.parked import ParkedRow
from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.observe import metrics
from shipper.sinks.acks import AckTracker
from shipper.sinks.aws.errors import CLOUDWATCH_LOGS, error_code
from shipper.sinks.base import Sink, count_sent
from shipper.sinks.cloudwatch import reconcile
from shipper.sinks.cloudwatch.batch import Batch, Event, event_time, request_body
from shipper.sinks.cloudwatch.client import CloudWatchLogs
from shipper.sinks.cloudwatch.config import EVENT_OVERHEAD
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions as Options
from shipper.sinks.cloudwatch.entity import Entity
from shipper.sinks.cloudwatch.parking import PARKED_SENDING, Parking, StreamRefused
from shipper.sinks.cloudwatch.reconcile import BatchRow, Overlap
from shipper.sinks.cloudwatch.routing import Router
from shipper.sinks.cloudwatch.streams import CannotMake, StreamMaker, StreamQueue
from shipper.sinks.retry import Failure, Refused, Retry, classify, retrying, send_halving

READ_RECORDS = 10_000  # records per spool read (one segment)
MAX_PENDING_EVENTS = 30_000  # events held in memory across all stream queues...
MAX_PENDING_BYTES = 12 * 1024 * 1024  # ... and their bytes: enough to keep every request slot busy
DRAIN_BACKOFF_MAX = 1.0  # longest retry wait once the agent is stopping


class CloudWatchLogsSink(Sink):
    options: Options

    def __init__(self, sink_id: str, options: Options, spool: Spool):
        super().__init__(sink_id, options, spool)
        self.client = CloudWatchLogs(sink_id, options)
        self.streams = StreamMaker(self.client, options, self.log)
        self._entity_rejections_warned: set[str] = set()
        self.router = Router(options, self.labels)
        self.queues = self.router.queues  # the streams by (group, stream)
        self.tracker = AckTracker(spool, sink_id, self._on_all_acked)
        self._requests = asyncio.Semaphore(options.max_requests_in_flight)
        self._pending = 0
        self._pending_bytes = 0
        self._room = asyncio.Event()
        self._routed = Position(0, 0)  # set from the cursor when run() starts
        self._at_tail = False
        self._awaiting_routing: set[StreamQueue] = set()
        self._billed = metrics.bytes_billed.labels(*self.labels)
        self.parking = Parking(spool, sink_id, self.labels, self.log,
                               options.parked_max_size or spool.max_size // 4)

    # -- reading and routing --------------------------------------------------------------------

    async def open(self) -> None:
        await self.client.open()

    async def run(self) -> None:
        self._recover()
        self._crashed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for queue in self.queues.values():
            if queue.parked:
                self._start(queue)
        reader = asyncio.ensure_future(self._read())
        try:
            await asyncio.wait({reader, self._crashed}, return_when=asyncio.FIRST_COMPLETED)
            if self._crashed.done():
                raise self._crashed.exception() or RuntimeError("a stream's worker failed")  # made again
            await reader
        finally:
            reader.cancel()
            tasks = [q.task for q in self.queues.values() if q.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.queues.clear()

    async def _read(self) -> None:
        position = self._routed = self.spool.cursor(self.id)
        while True:
            while self._full() and not self._awaiting_routing:
                self._room.clear()
                await self._room.wait()
            blocks = self.spool.read(self.id, position, READ_RECORDS)
            if blocks:
                self._at_tail = False
                self.idle.clear()
                position = blocks[-1].end()
                self._route(blocks, position)
                continue
            tail = self.spool.tail()
            if tail > position:  # only blocks of sources this sink does not take: pass them
                position = tail
                self.tracker.seal(self.tracker.open(position), 0)
            self._at_tail = True
            if self.tracker.empty:
                self.idle.set()
            await self.spool.wait_for_append(position)

    def _route(self, blocks: list[StoredBlock], end: Position) -> None:
        segment = self.tracker.open(end)
        touched, records, events, size = self.router.route(blocks, segment, self._busy)
        self.received_events.inc(records)
        self.received_bytes.inc(size)
        self._pending += events
        self._pending_bytes += size
        self._routed = end
        now = time.monotonic()
        for queue in touched:
            if queue.since is None:
                queue.since = now
        for queue in (*touched, *self._awaiting_routing):
            self._start(queue)
            queue.wake.set()
        self.tracker.seal(segment, events)

    def _busy(self, queue: StreamQueue) -> bool:
        """A batch of the stream in flight, or waiting for the rest of a recorded batch to be read."""
        return (queue.task is not None and not queue.task.done()) or queue in self._awaiting_routing

    def _full(self) -> bool:
        return self._pending >= MAX_PENDING_EVENTS or self._pending_bytes >= MAX_PENDING_BYTES

    def _start(self, queue: StreamQueue) -> None:
        if queue.task is None or queue.task.done():
            queue.task = asyncio.create_task(self._work(queue), name=f"cloudwatch {queue.group} {queue.stream}")
            queue.task.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        failure = None if task.cancelled() else task.exception()
        if failure is not None and not self._crashed.done():
            self._crashed.set_exception(failure)

    def _on_all_acked(self) -> None:
        if self._at_tail:
            self.idle.set()

    # -- one worker per stream --------------------------------------------------------------------

    async def _work(self, queue: StreamQueue) -> None:
        """Send the stream's batches: one at a time, or up to `max_requests_per_stream` at once (their
        acknowledgements still reach the spool in order: acks.py)."""
        sending: set[asyncio.Task[None]] = set()
        try:
            while queue.pending or queue.parked or sending:
                if queue.parked or not queue.pending:
                    if sending:  # a parked stream waits for what is in flight before it retries
                        await self._reap(sending, all_of_them=bool(queue.parked))
                        continue
                    if queue.parked:
                        await self._work_parked(queue)
                    continue
                if not self._due(queue):
                    queue.wake.clear()
                    wait = queue.since + self.options.batch_timeout - time.monotonic() if queue.since else None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(queue.wake.wait(), wait)
                    continue
                batch, row = self._next_batch(queue)
                if not batch:
                    queue.wake.clear()
                    await queue.wake.wait()
                    continue
                queue.since = time.monotonic() if queue.pending else None
                sending.add(asyncio.create_task(self._deliver(queue, batch, row)))
                while len(sending) >= self.options.max_requests_per_stream:
                    await self._reap(sending)
        finally:
            for task in sending:
                task.cancel()
        queue.since = None

    @staticmethod
    async def _reap(sending: set[asyncio.Task[None]], all_of_them: bool = False) -> None:
        """Wait for one (or every) delivery in flight; a delivery's failure is the worker's."""
        done, _ = await asyncio.wait(sending, return_when=asyncio.ALL_COMPLETED if all_of_them
                                     else asyncio.FIRST_COMPLETED)
        sending.difference_update(done)
        for task in done:
            task.result()

    def _due(self, queue: StreamQueue) -> bool:
        return bool(
            queue.pending.full() or queue.recovered or self.draining
            or (queue.since is not None and time.monotonic() - queue.since >= self.options.batch_timeout)
        )

    def _next_batch(self, queue: StreamQueue) -> tuple[Batch | None, BatchRow | None]:
        """The next batch of the stream: as recorded before a restart if it was, else as many as fit."""
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

    async def _deliver(self, queue: StreamQueue, batch: Batch, row: BatchRow | None) -> None:
        maybe_landed = row is not None
        events = batch.chronological()
        if row is None:
            row = reconcile.row_for(queue.group, queue.stream, batch, events, queue.previous)
            self.spool.save_sink_state(self.id, row.key, row.encode())
            self.tracker.forget_when_acked(row.last[0], row.last[1], row.key)
        queue.previous = events  # what the next batch's row compares with, even while this one is in flight
        if not row.landed:
            try:
                await self._put_or_bisect(queue, events, row.overlap, maybe_landed, batch.entity)
            except StreamRefused as refused:
                self.parking.park_stream(queue, str(refused), self.queues.values())
                self._park(queue, batch)
                return
        self._finish(batch, row)

    async def _put_or_bisect(self, queue: StreamQueue, events: list[Event], overlap: Overlap,
                             maybe_landed: bool, entity: Entity | None = None) -> None:
        """Send `events`; a batch CloudWatch refuses as invalid goes again in halves (as new batches),
        down to the event refused, which is dropped and counted."""

        def put(part: list[Event]) -> Awaitable[None]:
            first = part is events  # only the batch as its ledger row describes it may have landed
            return self._put(queue, part, overlap if first else [], maybe_landed and first, entity)

        def refused_alone(_: list[Event], refusal: Refused) -> None:
            self.log.error("CloudWatch refuses an event of %s/%s; dropping it", queue.group, queue.stream)
            metrics.events_discarded.labels(*self.labels, refusal.reason).inc()

        await send_halving(events, put, _halves, self._halved, refused_alone)

    def _halved(self, refusal: Refused) -> None:
        metrics.retries.labels(*self.labels, refusal.reason).inc()

    # -- parked streams ---------------------------------------------------------------------------

    def _park(self, queue: StreamQueue, batch: Batch) -> None:
        """Move a batch of a parked stream out of the sink's way (parking.py), then count it as done, so
        the cursor can pass it."""
        self.parking.set_aside(queue, batch)
        self._pending -= len(batch)
        self._pending_bytes -= batch.size
        self._room.set()
        self.tracker.done(batch.segments())

    async def _work_parked(self, queue: StreamQueue) -> None:
        """One step of a parked stream: park what is due; once its time has come, try the oldest
        parked batch again; the stream delivers again when its parked area is empty. While the agent
        stops, parked records wait for the next start."""
        if queue.pending and self._due(queue):
            batch, _ = self._next_batch(queue)
            if batch:
                self._park(queue, batch)
                queue.since = time.monotonic() if queue.pending else None
                return
        now = time.monotonic()
        if self.draining or now < queue.retry_at:
            due = [queue.retry_at] if not self.draining else []
            if queue.since is not None:
                due.append(queue.since + self.options.batch_timeout)
            queue.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.wake.wait(), max(0.0, min(due) - now) if due else None)
            return
        row = self.parking.next_row(queue)
        if row is None:
            self.parking.delivers_again(queue, self.queues.values())
            return
        await self._send_parked(queue, row)

    async def _send_parked(self, queue: StreamQueue, row: ParkedRow) -> None:
        maybe_landed = self.parking.sending(row)
        events = sorted(row.items, key=event_time)
        try:
            await self._put_or_bisect(queue, events, [], maybe_landed)
        except StreamRefused as refused:
            self.parking.park_stream(queue, str(refused), self.queues.values())
            return
        self.parking.sent(row)
        count_sent(self, len(row.items), sum(len(e["message"]) for e in row.items))

    def retry_parked(self) -> None:
        """Try every parked stream again now (a SIGHUP: the operator may have fixed the cause)."""
        self.parking.retry_all(self.queues.values())

    def parked_streams(self) -> dict[str, str]:
        """`group/stream` -> why, for every stream parked now."""
        return self.parking.parked_streams(self.queues.values())

    def _refused(self, queue: StreamQueue, error: Exception) -> Exception:
        """StreamRefused (park it) when the refusal is this stream's (parking.py); else a Retry for the
        refusal: the sink's own problem (a policy that denies every group), reported, with the records
        kept in the spool."""
        if self.parking.is_the_streams(queue, self.queues.values(), holds_the_reader=self._full()):
            return StreamRefused(f"{error_code(error)}: {error}")
        return Retry.for_call(Failure.REFUSED, error)

    def _finish(self, batch: Batch, row: BatchRow) -> None:
        """The batch is in CloudWatch, or refused event by event and counted: acknowledge it."""
        self._pending -= len(batch)
        self._pending_bytes -= batch.size
        self._room.set()
        count_sent(self, batch.records, batch.size)  # a split record counts once
        self._billed.inc(batch.size + EVENT_OVERHEAD * len(batch))
        row.landed = True
        self.tracker.done(batch.segments())
        if not self.tracker.forgotten(row.key):
            self.spool.save_sink_state(self.id, row.key, row.encode())

    async def _put(self, queue: StreamQueue, events: list[Event], overlap: Overlap, maybe_landed: bool,
                   entity: Entity | None = None) -> None:
        """Send until CloudWatch has the events (or says it already had them); `overlap` is what their
        ledger row says the stream's previous batch shares with them."""
        state = {"maybe_landed": maybe_landed, "timed_out": False}
        async for attempt in retrying(self._on_retry, self._sleep):
            with attempt:
                if state["timed_out"]:  # the server may still be working on it: let it finish before asking
                    await asyncio.sleep(self.options.request_timeout)
                    state["timed_out"] = False
                async with self._requests:
                    if state["maybe_landed"] and await self._already_there(queue, events, overlap):
                        self.log.info("a batch of %d events for %s/%s had landed before; not sending it again",
                                      len(events), queue.group, queue.stream)
                        self.mark_ready()
                        return
                    try:
                        rejected, rejected_entity = await self._send(queue, events, entity)
                    except Retry as retry:
                        if retry.failure is Failure.AMBIGUOUS:
                            state["maybe_landed"] = True
                            state["timed_out"] = "Timeout" in retry.reason_code
                        raise
                self.mark_ready()
                queue.delivered_at = time.monotonic()
                self._count_rejected(rejected, len(events))
                self._count_rejected_entity(rejected_entity, queue)
                self.observe_latency([event_time(events[i]) / 1000 for i in (0, len(events) // 2, -1)])
                return

    async def _send(self, queue: StreamQueue, events: list[Event],
                    entity: Entity | None) -> tuple[dict[str, Any], dict[str, Any]]:
        body = request_body(queue.group, queue.stream, events, entity)
        created = False
        while True:
            try:
                return await self.client.put_log_events(queue.group, queue.stream, body)
            except Exception as error:
                failure = classify(error, CLOUDWATCH_LOGS)
                if failure is Failure.INVALID:
                    raise Refused("invalid", str(error)) from error
                if failure is Failure.REFUSED:
                    raise self._refused(queue, error) from error
                if failure is not Failure.MISSING or created:
                    raise Retry.for_call(failure, error) from error
                try:
                    await self.streams.make(queue.group, queue.stream, error)
                except CannotMake as cannot:
                    raise self._refused(queue, cannot.error) from cannot.error
                created = True  # a group or stream deleted while running is made again, once per attempt

    async def _already_there(self, queue: StreamQueue, events: list[Event], overlap: Overlap) -> bool:
        """Whether a batch that may have landed did (reconcile.py). With `reconcile: false`, or when
        reading the stream back is denied, the batch is sent again: at least once for that batch,
        counted (`shipper_errors_total{stage="reconcile"}`) and said in a warning."""
        if not self.options.reconcile:
            metrics.errors.labels(*self.labels, "reconcile", "off").inc()
            return False
        want = reconcile.expected(events, overlap)
        if not want:
            return True
        low = min(ts for ts, _ in want)
        high = max(ts for ts, _ in want)
        try:
            found = await self.client.get_log_events(queue.group, queue.stream, low, high)
        except Exception as error:
            failure = classify(error, CLOUDWATCH_LOGS)
            if failure is Failure.MISSING:
                return False
            if failure in (Failure.REFUSED, Failure.FORBIDDEN):
                metrics.errors.labels(*self.labels, "reconcile", error_code(error)).inc()
                self.log.warning("reading %s/%s back is denied (%s: logs:GetLogEvents, see iam/); a batch of %d "
                                 "events that may have landed is sent again: it may arrive twice",
                                 queue.group, queue.stream, error_code(error), len(events))
                return False
            raise Retry.for_call(failure, error) from error
        return reconcile.all_there(want, found)

    def _count_rejected(self, rejected: dict[str, Any], total: int) -> None:
        """Count events CloudWatch refused one by one; they are acknowledged, never sent again."""
        if not rejected:
            return
        too_old = rejected.get("tooOldLogEventEndIndex", -1) + 1
        expired = max(0, rejected.get("expiredLogEventEndIndex", -1) + 1 - too_old)
        too_new = total - rejected["tooNewLogEventStartIndex"] if "tooNewLogEventStartIndex" in rejected else 0
        for reason, count in (("too_old", too_old), ("expired", expired), ("too_new", too_new)):
            if count:
                metrics.events_discarded.labels(*self.labels, reason).inc(count)
                self.log.warning("CloudWatch rejected %d event(s) as %s", count, reason.replace("_", " "))

    def _count_rejected_entity(self, rejected: dict[str, Any], queue: StreamQueue) -> None:
        """A rejected entity is counted and said once per kind; the events were stored all the same."""
        if not rejected:
            return
        kind = str(rejected.get("errorType", "unknown"))
        metrics.entities_rejected.labels(*self.labels, kind).inc()
        if kind not in self._entity_rejections_warned:
            self._entity_rejections_warned.add(kind)
            self.log.warning("CloudWatch rejected the entity of a request to %s/%s (%s); the events are stored, "
                             "without the link to related telemetry (said once per kind)", queue.group,
                             queue.stream, kind)

    # -- health and retries -----------------------------------------------------------------------

    def _on_retry(self, retry: Retry, wait: float) -> None:
        code = retry.reason_code
        message = f"{retry.reason}: {code}: {retry.cause}"
        metrics.retries.labels(*self.labels, retry.reason).inc()
        metrics.errors.labels(*self.labels, "deliver", code).inc()
        self.note_failure(code, message)
        if retry.not_ready is not None:
            self.mark_not_ready(message, retry.not_ready_code)
        else:
            self.log.warning("%s; retrying in %.1fs", message, wait)

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, DRAIN_BACKOFF_MAX) if self.draining else seconds)

    # -- restart ----------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Load the rows of batches sent before the last stop, to skip the ones that landed."""
        rows = sorted((BatchRow.decode(v) for k, v in self.spool.sink_state(self.id).items()
                       if not k.startswith(PARKED_SENDING)), key=lambda r: r.first)
        for row in rows:
            key = (row.group, row.stream)
            queue = self.router.queue_named(*key)
            queue.recovered.append(row)
            self.tracker.forget_when_acked(row.last[0], row.last[1], row.key)
        if rows:
            self.log.info("%d batch(es) were in flight or unacknowledged at the last stop; checking them",
                          len(rows))
        self.parking.recover(self.router.queue_named)

    async def close(self) -> None:
        await self.client.close()




def _halves(events: list[Event]) -> tuple[list[Event], list[Event]] | None:
    middle = len(events) // 2
    return (events[:middle], events[middle:]) if middle else None

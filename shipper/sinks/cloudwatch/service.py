"""One batch to CloudWatch Logs: PutLogEvents until it is accepted, the stream made when it is missing,
a batch that may have landed read back first (reconcile.py), a batch refused as invalid sent again in
halves, and what CloudWatch refused event by event counted.

What this cannot decide alone, whether a refused stream is the stream's problem or the sink's, it asks
the sink (`refused`): StreamRefused when the stream is to be parked (parking.py), else a Retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from shipper.observe import metrics
from shipper.sinks.aws.errors import CLOUDWATCH_LOGS, error_code
from shipper.sinks.base import Sink
from shipper.sinks.cloudwatch import reconcile
from shipper.sinks.cloudwatch.batch import Event, event_time, request_body
from shipper.sinks.cloudwatch.client import CloudWatchLogs
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions
from shipper.sinks.cloudwatch.entity import Entity
from shipper.sinks.cloudwatch.reconcile import Overlap
from shipper.sinks.cloudwatch.streams import CannotMake, StreamMaker, StreamQueue
from shipper.sinks.engine import clock
from shipper.sinks.retry import Failure, Refused, Retry, classify, retrying, send_halving

DRAIN_BACKOFF_MAX = 1.0  # longest retry wait once the agent is stopping

Refusal = Callable[[StreamQueue, Exception], Exception]  # StreamRefused (park the stream) or a Retry


class CloudWatchService:
    def __init__(self, sink: Sink, client: CloudWatchLogs, options: CloudWatchLogsOptions, refused: Refusal):
        self.sink = sink
        self.client = client
        self.options = options
        self.refused = refused
        self.streams = StreamMaker(client, options, sink.log)
        self.log = sink.log
        self.labels = sink.labels
        self._requests = asyncio.Semaphore(options.max_requests_in_flight)  # over all streams, per call
        self._entity_rejections_warned: set[str] = set()

    async def put(self, queue: StreamQueue, events: list[Event], overlap: Overlap, maybe_landed: bool,
                  entity: Entity | None = None) -> None:
        """Send `events`; a batch CloudWatch refuses as invalid goes again in halves (as new batches),
        down to the event refused, which is dropped and counted."""

        def put(part: list[Event]) -> Awaitable[None]:
            first = part is events  # only the batch as its ledger row describes it may have landed
            return self._put(queue, part, overlap if first else [], maybe_landed and first, entity)

        def refused_alone(_: list[Event], refusal: Refused) -> None:
            self.log.error("CloudWatch refuses an event of %s/%s; dropping it", queue.group, queue.stream)
            metrics.events_discarded.labels(*self.labels, refusal.reason).inc()

        def halved(refusal: Refused) -> None:
            metrics.retries.labels(*self.labels, refusal.reason).inc()

        await send_halving(events, put, _halves, halved, refused_alone)

    async def _put(self, queue: StreamQueue, events: list[Event], overlap: Overlap, maybe_landed: bool,
                   entity: Entity | None) -> None:
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
                        self.sink.mark_ready()
                        return
                    try:
                        rejected, rejected_entity = await self._send(queue, events, entity)
                    except Retry as retry:
                        if retry.failure is Failure.AMBIGUOUS:
                            state["maybe_landed"] = True
                            state["timed_out"] = "Timeout" in retry.reason_code
                        raise
                self.sink.mark_ready()
                queue.delivered_at = clock()
                self._count_rejected(rejected, len(events))
                self._count_rejected_entity(rejected_entity, queue)
                self.sink.observe_latency([event_time(events[i]) / 1000 for i in (0, len(events) // 2, -1)])
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
                    raise self.refused(queue, error) from error
                if failure is not Failure.MISSING or created:
                    raise Retry.for_call(failure, error) from error
                try:
                    await self.streams.make(queue.group, queue.stream, error)
                except CannotMake as cannot:
                    raise self.refused(queue, cannot.error) from cannot.error
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

    def _on_retry(self, retry: Retry, wait: float) -> None:
        code = retry.reason_code
        message = f"{retry.reason}: {code}: {retry.cause}"
        metrics.retries.labels(*self.labels, retry.reason).inc()
        metrics.errors.labels(*self.labels, "deliver", code).inc()
        self.sink.note_failure(code, message)
        if retry.not_ready is not None:
            self.sink.mark_not_ready(message, retry.not_ready_code)
        else:
            self.log.warning("%s; retrying in %.1fs", message, wait)

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, DRAIN_BACKOFF_MAX) if self.sink.draining else seconds)


def _halves(events: list[Event]) -> tuple[list[Event], list[Event]] | None:
    middle = len(events) // 2
    return (events[:middle], events[middle:]) if middle else None

"""The `http` sink: batches of records sent to a collector, up to `max_requests_in_flight` at once.

Guarantees:
- A batch is acknowledged to the spool once the server answered 2xx, and the cursor only moves past
  a batch when every batch before it was answered too (acks.py): a crash re-sends the batches that
  were in flight and nothing else (duplicates are only ever those).
- 408, 429, 5xx and no answer at all (refused, reset, timeout) are retried forever, with backoff and
  the server's Retry-After; 401, 403 and 407 make the sink not ready and are retried too (a wrong
  token must not throw logs away). A 413 sends the batch again in halves, down to one record.
- Any other answer (400, 404, 422...) means the server will never take that batch: it is discarded,
  counted in `shipper_events_discarded_total{reason="http_<status>"}` and logged; the sink goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from shipper.buffer.spool import Position, Spool
from shipper.observe import metrics
from shipper.sinks.acks import AckTracker
from shipper.sinks.base import Sink, count_sent
from shipper.sinks.http.config import HttpOptions
from shipper.sinks.http.request import Batch, RequestBuilder
from shipper.sinks.http.retry import Retry, retrying
from shipper.sinks.http.service import Answer, Outcome, Service

WARN_EVERY = 10.0  # seconds between warnings about retried requests, per reason


class HttpSink(Sink):
    options: HttpOptions

    def __init__(self, sink_id: str, options: HttpOptions, spool: Spool):
        super().__init__(sink_id, options, spool)
        self.builder = RequestBuilder(options.encoding, options.compression, options.max_batch_bytes,
                                      options.max_batch_events)
        self.service = Service(options, self.builder.content_type)
        self._slots = asyncio.Semaphore(options.max_requests_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # a request finished with everything acknowledged, or failed
        self._failure: BaseException | None = None
        self._warned_at: dict[str, float] = {}
        self._retried_since_warning: dict[str, int] = {}
        self._acks = AckTracker(spool, sink_id, self._wake.set)

    async def open(self) -> None:
        await self.service.open()

    async def run(self) -> None:
        position = self.spool.cursor(self.id)
        self._acks = AckTracker(self.spool, self.id, self._wake.set)  # a restarted run starts from the spool
        self.builder.take()
        try:
            while True:
                blocks = self.spool.read(self.id, position, self.options.max_batch_events)
                if blocks:
                    self.count_received(blocks)
                    for full in self.builder.add(blocks, time.monotonic()):
                        await self._dispatch(full)
                    position = blocks[-1].end()
                    continue
                if self.builder.holding:
                    deadline = self.builder.opened_at + self.options.batch_timeout
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

    async def _dispatch(self, batch: Batch) -> None:
        """Send `batch` once a request slot is free; its place in the acknowledgement order is taken now."""
        await self._slots.acquire()
        self._raise_failure()
        number = self._acks.open(batch.end)
        self._acks.seal(number, 1)
        task = asyncio.create_task(self._deliver(batch, number))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()  # a bug of ours: the run fails and is restarted from the spool
            self._wake.set()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    async def _deliver(self, batch: Batch, number: int) -> None:
        try:
            if batch.unencodable:
                self._discard(batch.unencodable, "unencodable", "%d record(s) cannot be encoded as JSON; discarded")
            if batch.items:
                await self._send(batch)
            self._acks.done({number: 1})
        finally:
            self._slots.release()

    async def _send(self, batch: Batch) -> None:
        body = self.builder.body(batch)
        answer = Answer(Outcome.RETRY, "")
        async for attempt in retrying(self._retrying):
            with attempt:
                answer = await self.service.send(body)
                if answer.outcome in (Outcome.RETRY, Outcome.UNAUTHORIZED, Outcome.UNTRUSTED):
                    raise Retry(answer)
        if answer.outcome is Outcome.DELIVERED:
            self.mark_ready()
            count_sent(self, batch.events, len(body))
            self.observe_latency((batch.first_time, batch.last_time))
        elif answer.outcome is Outcome.TOO_LARGE and batch.events > 1:
            metrics.retries.labels(*self.labels, "413").inc()
            for half in batch.halves():
                await self._send(half)
        else:
            self._discard(batch.events, f"http_{answer.reason}", f"{self.options.shown_uri} refused %d record(s) "
                          f"with HTTP {answer.reason}; they are discarded (sent again, they would be refused again)")

    def _retrying(self, answer: Answer, wait: float) -> None:
        reason = answer.reason
        metrics.retries.labels(*self.labels, reason).inc()
        metrics.errors.labels(*self.labels, "send", reason).inc()
        if answer.outcome is Outcome.UNAUTHORIZED:
            self.mark_not_ready(f"{self.options.shown_uri} answered HTTP {reason}: check `auth` and `headers`",
                                f"unauthorized:{reason}")
        elif answer.outcome is Outcome.UNTRUSTED:
            self.mark_not_ready(f"the certificate of {self.options.shown_uri} fails verification (tls.ca_file?)",
                                "certificate")
        now = time.monotonic()
        self._retried_since_warning[reason] = self._retried_since_warning.get(reason, 0) + 1
        if now - self._warned_at.get(reason, -WARN_EVERY) >= WARN_EVERY:
            self._warned_at[reason] = now
            count = self._retried_since_warning.pop(reason)
            what = f"HTTP {reason}" if reason.isdigit() else reason
            self.log.warning("%s from %s; retrying in %.1fs (%d request(s) retried for it since last said)",
                             what, self.options.shown_uri, wait, count)

    def _discard(self, events: int, reason: str, message: str) -> None:
        metrics.events_discarded.labels(*self.labels, reason).inc(events)
        self.log.error(message, events)

    async def _cancel_in_flight(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        for task in list(self._in_flight):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._in_flight.clear()
        self._slots = asyncio.Semaphore(self.options.max_requests_in_flight)

    async def close(self) -> None:
        await self._cancel_in_flight()
        await self.service.close()

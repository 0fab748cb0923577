"""The `http` sink: batches of records sent to a collector, up to `max_requests_in_flight` at once.

Guarantees:
- A batch is acknowledged to the spool once the server answered 2xx, and the cursor only moves past
  a batch when every batch before it was answered too (batching.py): a crash re-sends the batches
  that were in flight and nothing else (duplicates are only ever those).
- 408, 429, 5xx and no answer at all (refused, reset, timeout) are retried forever, with backoff and
  the server's Retry-After; 401, 403 and 407 make the sink not ready and are retried too (a wrong
  token must not throw logs away), and so is a 3xx: the sink is not ready, its reason names the
  Location (redirects are not followed: credentials would go wherever they point). A 413 sends the
  batch again in halves, down to one record.
- Any other answer (400, 404, 422...) means the server will never take that batch: it is discarded,
  counted in `shipper_events_discarded_total{reason="http_<status>"}` and logged; the sink goes on.
"""

from __future__ import annotations

from typing import Any

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.sinks.base import count_sent
from shipper.sinks.batching import BatchingSink
from shipper.sinks.http.config import HttpOptions
from shipper.sinks.http.request import Batch, RequestBuilder
from shipper.sinks.http.service import Answer, Outcome, Service
from shipper.sinks.retry import Refused, Retry, retrying, send_halving

_NOT_READY_CODE = {Outcome.UNAUTHORIZED: "unauthorized:", Outcome.REDIRECTED: "redirect:"}


class HttpSink(BatchingSink[Batch]):
    options: HttpOptions

    def __init__(self, sink_id: str, options: HttpOptions, spool: Spool):
        builder = self.builder_for(options)
        super().__init__(sink_id, options, spool, builder, in_flight=options.max_requests_in_flight,
                         batch_timeout=options.batch_timeout, read_records=options.max_batch_events)
        self.requests = builder
        self.service = self.service_for(options, builder.content_type)

    @staticmethod
    def builder_for(options: HttpOptions) -> Any:
        return RequestBuilder(options.encoding, options.compression, options.max_batch_bytes,
                              options.max_batch_events, options.layout)

    @staticmethod
    def service_for(options: HttpOptions, content_type: str) -> Service:
        return Service(options, content_type, options.method)

    async def open(self) -> None:
        await self.service.open()

    async def send(self, batch: Batch) -> None:
        if batch.unencodable:
            self.discard(batch.unencodable, "unencodable", "%d record(s) cannot be encoded as JSON; discarded")
        if batch.items:
            await send_halving(batch, self._send, type(batch).halves, self._halved, self._refused_alone)

    async def _send(self, batch: Batch) -> None:
        """Until the server answers other than "again"; Refused: it answered 413."""
        body = self.requests.body(batch)
        answer = Answer(Outcome.RETRY, "")
        async for attempt in retrying(self._retrying):
            with attempt:
                answer = await self.service.send(body)
                if answer.outcome in (Outcome.RETRY, Outcome.UNAUTHORIZED, Outcome.UNTRUSTED, Outcome.REDIRECTED):
                    raise self._retry(answer)
        if answer.outcome is Outcome.DELIVERED:
            self.mark_ready()
            self.count_delivered(batch, answer, len(body))
            self.observe_latency((batch.first_time, batch.last_time))
        elif answer.outcome is Outcome.TOO_LARGE:
            raise Refused(answer.reason, "too large")
        else:
            self._refused_alone(batch, Refused(answer.reason, "refused"))

    def count_delivered(self, batch: Batch, answer: Answer, size: int) -> None:
        """A 2xx for `batch`: every record of it was taken."""
        count_sent(self, batch.events, size)

    def _retry(self, answer: Answer) -> Retry:
        """The retry for `answer`, with what to tell the operator when only they can fix it."""
        uri, reason = self.options.shown_uri, answer.reason
        if answer.outcome is Outcome.UNAUTHORIZED:
            not_ready = f"{uri} answered HTTP {reason}: check `auth` and `headers`"
        elif answer.outcome is Outcome.REDIRECTED:
            not_ready = (f"{uri} answered HTTP {reason}, redirecting to {answer.location}: set `uri` to where the "
                         "collector is (redirects are not followed)")
        elif answer.outcome is Outcome.UNTRUSTED:
            not_ready = f"the certificate of {uri} fails verification (tls.ca_file?)"
        else:
            return Retry(reason, retry_after=answer.retry_after)
        code = _NOT_READY_CODE[answer.outcome] + reason if answer.outcome in _NOT_READY_CODE else "certificate"
        return Retry(reason, not_ready=not_ready, not_ready_code=code, retry_after=answer.retry_after)

    def _halved(self, refusal: Refused) -> None:
        metrics.retries.labels(*self.labels, refusal.reason).inc()

    def _refused_alone(self, batch: Batch, refusal: Refused) -> None:
        self.discard(batch.events, f"http_{refusal.reason}", f"{self.options.shown_uri} refused %d record(s) with "
                     f"HTTP {refusal.reason}; they are discarded (sent again, they would be refused again)")

    def _retrying(self, retry: Retry, wait: float) -> None:
        reason = retry.reason
        metrics.retries.labels(*self.labels, reason).inc()
        metrics.errors.labels(*self.labels, "send", reason).inc()
        self.note_failure(reason, f"{'HTTP ' if reason.isdigit() else ''}{reason} from {self.options.shown_uri}")
        if retry.not_ready is not None:
            self.mark_not_ready(retry.not_ready, retry.not_ready_code)
        count = self.retried_since_said(reason)
        if count is not None:
            what = f"HTTP {reason}" if reason.isdigit() else reason
            self.log.warning("%s from %s; retrying in %.1fs (%d request(s) retried for it since last said)",
                             what, self.options.shown_uri, wait, count)

    async def close(self) -> None:
        await super().close()
        await self.service.close()

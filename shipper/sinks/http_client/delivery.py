"""What the sinks that POST batches to a collector share (http, opentelemetry): one request at a time
per batch, retried as the collector's answer says, up to `max_requests_in_flight` batches at once.

A sink says how it cuts batches (`builder_for`: a builder whose batches have `items`, `events`,
`halves()`, `unencodable`, `first_time` and `last_time`, and a `body(batch)`), how it reads answers
(`service_for`: the Service, with its meaning of each status) and what a delivered batch counts
(`count_delivered`). What follows from each outcome is the same for all of them:
- DELIVERED: the batch is acknowledged (in order, batching.py) and counted as sent.
- RETRY, UNAUTHORIZED, UNTRUSTED, REDIRECTED: sent again forever with backoff and the collector's
  Retry-After; the last three make the sink not ready with a reason that says what to fix.
- TOO_LARGE: the batch is sent again in halves, down to one record.
- REJECTED: the batch is discarded, counted in `shipper_events_discarded_total{reason="http_<status>"}`
  and logged; the sink goes on.
"""

from __future__ import annotations

from typing import Any

from shipper.buffer.spool import Spool
from shipper.config.http_client import HttpClientOptions
from shipper.observe import metrics
from shipper.sinks.base import count_sent
from shipper.sinks.batching import BatchingSink
from shipper.sinks.http_client.service import Answer, Outcome, Service
from shipper.sinks.retry import Refused, Retry, retrying, send_halving

_NOT_READY_CODE = {Outcome.UNAUTHORIZED: "unauthorized:", Outcome.REDIRECTED: "redirect:"}


class HttpDelivery(BatchingSink[Any]):
    options: HttpClientOptions

    def __init__(self, sink_id: str, options: Any, spool: Spool):
        builder = self.builder_for(options)
        super().__init__(sink_id, options, spool, builder, in_flight=options.max_requests_in_flight,
                         batch_timeout=options.batch_timeout, read_records=options.max_batch_events)
        self.requests = builder
        self.service = self.service_for(options, builder.content_type)

    @staticmethod
    def builder_for(options: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def service_for(options: Any, content_type: str) -> Service:
        raise NotImplementedError

    async def open(self) -> None:
        await self.service.open()

    async def send(self, batch: Any) -> None:
        if batch.unencodable:
            self.discard(batch.unencodable, "unencodable", "%d record(s) cannot be encoded as JSON; discarded")
        if batch.events:
            await send_halving(batch, self._send, type(batch).halves, self._halved, self._refused_alone)

    async def _send(self, batch: Any) -> None:
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

    def count_delivered(self, batch: Any, answer: Answer, size: int) -> None:
        """A 2xx for `batch`: every record of it was taken."""
        count_sent(self, batch.events, size)

    def _retry(self, answer: Answer) -> Retry:
        """The retry for `answer`, with what to tell the operator when only they can fix it."""
        uri, reason = self.options.shown_uri, answer.reason
        if answer.outcome is Outcome.UNAUTHORIZED:
            not_ready = self.unauthorized_hint(answer)
        elif answer.outcome is Outcome.REDIRECTED:
            not_ready = (f"{uri} answered HTTP {reason}, redirecting to {answer.location}: set `uri` to where the "
                         "collector is (redirects are not followed)")
        elif answer.outcome is Outcome.UNTRUSTED:
            not_ready = f"the certificate of {uri} fails verification (tls.ca_file?)"
        else:
            return Retry(reason, retry_after=answer.retry_after)
        code = _NOT_READY_CODE[answer.outcome] + reason if answer.outcome in _NOT_READY_CODE else "certificate"
        return Retry(reason, not_ready=not_ready, not_ready_code=code, retry_after=answer.retry_after)

    def unauthorized_hint(self, answer: Answer) -> str:
        """What to tell the operator when the collector refused the sink's credentials."""
        return f"{self.options.shown_uri} answered HTTP {answer.reason}: check `auth` and `headers`"

    def _halved(self, refusal: Refused) -> None:
        metrics.retries.labels(*self.labels, refusal.reason).inc()

    def _refused_alone(self, batch: Any, refusal: Refused) -> None:
        self.discard(batch.events, f"http_{refusal.reason}", f"{self.options.shown_uri} refused %d record(s) with "
                     f"HTTP {refusal.reason}; they are discarded (sent again, they would be refused again)")

    def _retrying(self, retry: Retry, wait: float) -> None:
        reason = retry.reason
        metrics.errors.labels(*self.labels, "send", reason).inc()
        self.retried(reason, retry.not_ready_pair, wait, f"HTTP {reason}" if reason.isdigit() else reason,
                     self.options.shown_uri, "request")

    async def close(self) -> None:
        await super().close()
        await self.service.close()

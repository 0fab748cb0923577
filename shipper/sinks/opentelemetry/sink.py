"""The `opentelemetry` sink: batches of records sent to an OTLP/HTTP receiver as logs.

Guarantees (those of the http sink, engine.py and batching.py, with OTLP's reading of an answer):
- A batch is acknowledged to the spool once the receiver answered 2xx, in order: a crash sends again
  the batches that were in flight and nothing else.
- 429, 502, 503 and 504 and no answer at all are retried forever, with jittered backoff and the
  receiver's Retry-After (the OTLP specification's retryable answers); 401, 403 and 407 make the
  sink not ready and are retried too (a wrong token must not throw logs away); a 413 sends the batch
  again in halves, down to one record.
- Any other answer (400, 404, 500...) is one the specification says must not be retried: the batch
  is discarded, counted in `shipper_events_discarded_total{reason="http_<status>"}` and logged.
- A 2xx with a partial success: the records it says were rejected are counted as discarded
  (`reason="rejected_by_receiver"`) and its message is logged; the batch is not sent again (the
  receiver would reject them again).
"""

from __future__ import annotations

import orjson

from shipper.sinks.base import count_sent
from shipper.sinks.http_client.delivery import HttpDelivery
from shipper.sinks.http_client.service import Answer, Service
from shipper.sinks.opentelemetry import protobuf
from shipper.sinks.opentelemetry.config import OpenTelemetryOptions
from shipper.sinks.opentelemetry.request import Batch, RequestBuilder
from shipper.templates import field_path

RETRYABLE = frozenset({429, 502, 503, 504})  # the OTLP specification's "Failures" and "Throttling"


class OpenTelemetrySink(HttpDelivery):
    options: OpenTelemetryOptions

    @staticmethod
    def builder_for(options: OpenTelemetryOptions) -> RequestBuilder:
        severity = field_path(options.severity_field) if options.severity_field else None
        return RequestBuilder(options.encoding, options.compression, options.max_batch_bytes,
                              options.max_batch_events, options.resource_attributes, severity)

    @staticmethod
    def service_for(options: OpenTelemetryOptions, content_type: str) -> Service:
        return Service(options, content_type, "post", RETRYABLE.__contains__, read_body=True)

    def count_delivered(self, batch: Batch, answer: Answer, size: int) -> None:
        rejected, message = self._partial_success(answer.body)
        rejected = min(max(rejected, 0), batch.events)
        count_sent(self, batch.events - rejected, size)
        if rejected:
            self.discard(rejected, "rejected_by_receiver", f"{self.options.shown_uri} rejected %d record(s) of a batch "
                         f"of {batch.events} (a partial success): {message[:500]!r}")

    def _partial_success(self, answer: bytes) -> tuple[int, str]:
        if not answer:
            return 0, ""
        if self.options.encoding == "protobuf":
            try:
                return protobuf.partial_success(answer)
            except protobuf.Malformed:
                return 0, ""
        try:
            said = orjson.loads(answer)
            partial = said.get("partialSuccess") or {}
            return int(partial.get("rejectedLogRecords") or 0), str(partial.get("errorMessage") or "")
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            return 0, ""

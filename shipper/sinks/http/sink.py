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

from shipper.sinks.http.config import HttpOptions
from shipper.sinks.http.request import RequestBuilder
from shipper.sinks.http_client.delivery import HttpDelivery
from shipper.sinks.http_client.service import Service


class HttpSink(HttpDelivery):
    options: HttpOptions

    @staticmethod
    def builder_for(options: HttpOptions) -> RequestBuilder:
        return RequestBuilder(options.encoding, options.compression, options.max_batch_bytes,
                              options.max_batch_events, options.layout)

    @staticmethod
    def service_for(options: HttpOptions, content_type: str) -> Service:
        return Service(options, content_type, options.method)

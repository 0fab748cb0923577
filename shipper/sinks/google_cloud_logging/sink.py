"""The `google_cloud_logging` sink: batches of entries written with entries.write (partialSuccess set).

Guarantees (those of http_client/delivery.py and batching.py, with the API's reading of an answer):
- A batch is acknowledged to the spool once the API answered, in order: a crash sends again the
  batches in flight and nothing else, under the same insertIds (Cloud Logging shows an entry of the
  same timestamp and insertId once).
- 429, 5xx, 408 and no answer are retried forever with jittered backoff. 401 gets a new token and is
  retried; 403 (a role missing), 404 (a wrong project or endpoint) and credentials that cannot be
  loaded or refreshed make the sink not ready, retried too: nothing is thrown away for a setting.
- A refusal naming entries (WriteLogEntriesPartialErrors: the API wrote every other entry) counts
  the records of those entries as discarded (`reason="rejected_by_receiver"`) with the first error's
  message; the batch is not sent again (its other entries are stored).
- Any other 4xx (the request as a whole is invalid) discards the batch, counted as `http_<status>`;
  413 sends it again in halves.
"""

from __future__ import annotations

from typing import Any

import orjson

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.sinks.base import count_sent
from shipper.sinks.google_cloud_logging.config import MAX_REQUEST_BYTES, GoogleCloudLoggingOptions
from shipper.sinks.google_cloud_logging.credentials import Tokens
from shipper.sinks.google_cloud_logging.entries import Batch, Encoded, EntryWriter, RequestBuilder
from shipper.sinks.google_cloud_logging.resource import Resources, node_facts
from shipper.sinks.http_client.delivery import HttpDelivery
from shipper.sinks.http_client.service import Answer, NoCredentials, Outcome, Service

PARTIAL_ERRORS = "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors"
MAX_ERROR_ANSWER = 4 * 1024 * 1024  # a refusal lists up to one error per entry


class WriteService(Service):
    """entries.write: a token on every request; the refusals read for the entries they name."""

    def __init__(self, options: GoogleCloudLoggingOptions, tokens: Tokens):
        super().__init__(options, "application/json", "post", _retried, read_body=True, read_refusals=True,
                         max_answer=MAX_ERROR_ANSWER, authorize=tokens.authorization)
        self.tokens = tokens

    async def send(self, body: bytes) -> Answer:
        answer = await super().send(body)
        if answer.outcome not in (Outcome.REJECTED, Outcome.UNAUTHORIZED) or not answer.reason.isdigit():
            return answer
        if partial_errors(answer.body):  # the entries not named were written
            return Answer(Outcome.DELIVERED, answer.reason, body=answer.body)
        if answer.reason == "401":
            self.tokens.invalidate()
        if answer.reason == "404":
            return Answer(Outcome.UNAUTHORIZED, answer.reason, detail=_error_message(answer.body))
        return Answer(answer.outcome, answer.reason, detail=_error_message(answer.body))


class GoogleCloudLoggingSink(HttpDelivery):
    options: GoogleCloudLoggingOptions

    def __init__(self, sink_id: str, options: GoogleCloudLoggingOptions, spool: Spool):
        self.resources = Resources(options.project_id, options.resource_type, options.cluster_name,
                                   options.location)
        self.tokens = Tokens(options.credentials_file, options.request_timeout)
        self._said_unplaced = False
        super().__init__(sink_id, options, spool)
        self._fallback = metrics.events_fallback_named.labels(*self.labels)
        self._split = metrics.input_anomalies.labels(*self.labels, "oversize_split")

    def builder_for(self, options: GoogleCloudLoggingOptions) -> RequestBuilder:  # type: ignore[override]
        return RequestBuilder(EntryWriter(options, self.resources), options.compression,
                              min(options.max_batch_bytes, MAX_REQUEST_BYTES - 64 * 1024), options.max_batch_events,
                              self._encoded)

    def service_for(self, options: GoogleCloudLoggingOptions, content_type: str) -> Service:  # type: ignore[override]
        return WriteService(options, self.tokens)

    async def open(self) -> None:
        """Learns what the metadata server tells of this node, and signs in before the first request
        (a failure here is said by that request, which retries it)."""
        if self.resources.wants_facts:
            self.resources.learn(await node_facts())
        try:
            await self.tokens.authorization()
        except NoCredentials:
            pass
        else:
            self.log.info("signed in to Cloud Logging with %s", self.tokens.kind)
        await super().open()

    def _encoded(self, written: Encoded) -> None:
        if written.fallback_named:
            self._fallback.inc(written.fallback_named)
        if written.split:
            self._split.inc(len(written.split))
        if self.resources.unplaced and not self._said_unplaced:
            self._said_unplaced = True
            self.log.warning("records are written under the `global` resource: no metadata server told this node's "
                             "cluster_name and location (set them) or its instance id and zone")

    def count_delivered(self, batch: Batch, answer: Answer, size: int) -> None:
        failed = partial_errors(answer.body)
        rejected = batch.records_of_entries(set(failed)) if failed else 0
        count_sent(self, batch.events - rejected, size)
        if rejected:
            first = failed[min(failed)]
            self.discard(rejected, "rejected_by_receiver", f"Cloud Logging refused %d record(s) of a batch of "
                         f"{batch.events} ({len(failed)} entries; the first: {first[:300]!r}); the others were "
                         "written")

    def unauthorized_hint(self, answer: Answer) -> str:
        project = self.options.project_id
        if answer.reason == "credentials":
            return answer.detail
        if answer.reason == "404":
            return f"{self.options.shown_uri} answered 404 for project {project}: check project_id and endpoint"
        if answer.reason == "401":
            return "Cloud Logging refused the access token (401): check the credentials"
        return (f"Cloud Logging answered {answer.reason} for project {project}: the credentials need "
                f"roles/logging.logWriter there ({_shown(answer.detail)})")

    async def close(self) -> None:
        await super().close()
        self.tokens.close()


def _retried(status: int) -> bool:
    return status in (408, 429) or status >= 500


def partial_errors(answer: bytes) -> dict[int, str]:
    """Entry index -> its error message, from a WriteLogEntriesPartialErrors detail; {} if none."""
    if not answer:
        return {}
    try:
        said: Any = orjson.loads(answer)
        details = said["error"]["details"]
        errors: dict[int, str] = {}
        for detail in details:
            if isinstance(detail, dict) and detail.get("@type") == PARTIAL_ERRORS:
                for index, status in (detail.get("logEntryErrors") or {}).items():
                    message = status.get("message") if isinstance(status, dict) else None
                    errors[int(index)] = str(message or status)
        return errors
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return {}


def _error_message(answer: bytes) -> str:
    try:
        said: Any = orjson.loads(answer)
        return str(said["error"]["message"])[:300]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return ""


def _shown(detail: str) -> str:
    return repr(detail[:200]) if detail else "no message"

"""What every sink shares: its cursor in the spool, acknowledging, reporting idleness, draining."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable

from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.config.base import SinkOptions
from shipper.observe import metrics
from shipper.observe.logs import ComponentLog, WarningPace
from shipper.text import utf8_size

log = logging.getLogger(__name__)

UNREADY_AFTER_FAILURES = 10  # attempts in a row that failed: the sink is not ready, whatever the time
_KINDS = (  # what a failure's code says, in the words of /readyz and `shipper status`
    ("throttled", ("throttl", "provisionedthroughputexceeded", "toomanyrequests", "slowdown", "requestlimit")),
    ("denied", ("accessdenied", "unauthorized", "forbidden", "unrecognizedclient", "expiredtoken", "signature",
                "credential", "certificate", "handshake")),
    ("timeout", ("timeout", "timedout")),
    ("unreachable", ("connect", "endpoint", "refused", "reset", "unreachable", "gaierror", "oserror", "dns",
                     "transport")),
    ("server_error", ("internal", "unavailable")),
)
_STATUS_KINDS = {"429": "throttled", "401": "denied", "403": "denied", "407": "denied", "408": "timeout"}


def failure_kind(code: str) -> str:
    """`throttled`, `denied`, `timeout`, `unreachable`, `server_error` or `failing`, from an error code
    (`ThrottlingException`, an HTTP status such as `429`, `ClientConnectorError`, ...)."""
    if code.isdigit():
        return _STATUS_KINDS.get(code, "server_error" if code.startswith("5") else "failing")
    folded = code.lower().replace("_", "")
    return next((kind for kind, words in _KINDS if any(word in folded for word in words)), "failing")


class Sink(ABC):
    def __init__(self, sink_id: str, options: SinkOptions, spool: Spool):
        self.id = sink_id
        self.options = options
        self.type = options.type
        self.spool = spool
        self.idle = asyncio.Event()  # set while everything in the spool for this sink is acknowledged
        self.draining = False  # the agent is stopping: send what is waiting now, shorten retry waits
        self.labels = ("sink", sink_id, self.type)  # component_kind, component_id, component_type
        self.log = ComponentLog(logging.getLogger(type(self).__module__),
                                {"component_kind": "sink", "component": sink_id})
        self.received_events = metrics.events_received.labels(*self.labels)
        self.received_bytes = metrics.bytes_received.labels(*self.labels)
        self.sent_events = metrics.events_sent.labels(*self.labels)
        self.sent_bytes = metrics.bytes_sent.labels(*self.labels)
        self.ready = True  # False after an error retries cannot fix (access denied, a bad certificate)
        self.last_error = ""
        self.not_ready_reason = ""  # a short code for why (`forbidden:AccessDeniedException`, `handshake`)
        self.unready_after = 120.0  # the agent sets api.unready_after
        self._ready_gauge = metrics.sink_ready.labels(*self.labels)
        self._ready_gauge.set_function(lambda: 0.0 if self.problem() is not None else 1.0)  # what /readyz says
        self._latency = metrics.delivery_latency.labels(*self.labels)
        self._received_to = Position(0, 0)  # what count_received has counted up to
        self.last_error_kind = ""  # failure_kind of the last failure
        self.last_error_at: float | None = None  # wall time of the last failure
        self.errors_total = 0  # failures since start
        self.failures_in_row = 0  # since the last delivery
        self.delivered_at = time.monotonic()  # the last delivery (or the start)
        self._busy_since: float | None = None  # since when it has had records to send, as last looked at
        self._retry_warnings = WarningPace()

    @abstractmethod
    async def run(self) -> None:
        """Deliver what the spool holds for this sink, forever; acknowledge only what was accepted."""

    def observe_latency(self, written: Iterable[float]) -> None:
        """Delivery latency of a batch just accepted, from the times (seconds) of a sample of its
        records: the first, middle and last, so it costs nothing per record."""
        now = time.time()
        for moment in written:
            self._latency.observe(max(0.0, now - moment))

    def retried(self, reason: str, not_ready: tuple[str, str] | None, wait: float, what: str, where: str,
                unit: str = "call") -> None:
        """One attempt to be made again in `wait` seconds for `reason`: counted in shipper_retries_total,
        noted as the last failure, the sink not ready meanwhile when only an operator can fix it
        (`not_ready`: what to tell them, and the code in /readyz), and said at most once per
        REPEAT_WINDOW and reason, with how many were retried for it since."""
        metrics.retries.labels(*self.labels, reason).inc()
        self.note_failure(reason, not_ready[0] if not_ready else f"{what} from {where}")
        if not_ready is not None:
            self.mark_not_ready(*not_ready)
        count = self._retry_warnings.due(reason)
        if count is not None:
            self.log.warning("%s from %s; retrying in %.1fs (%d %s(s) retried for it since last said)",
                             what, where, wait, count, unit)

    def mark_not_ready(self, reason: str, code: str) -> None:
        """An error that needs an operator: reported once, in /readyz (as `code`) and `shipper_sink_ready`."""
        self.last_error = reason
        self.not_ready_reason = code
        if self.ready:
            self.log.error("not ready: %s (records stay in the spool; retrying)", reason)
        self.ready = False

    def mark_ready(self) -> None:
        if not self.ready:
            self.log.info("ready again")
        self.ready = True

    def note_failure(self, code: str, message: str) -> None:
        """An attempt failed (it is retried): remembered for /readyz and `shipper status`."""
        self.last_error = message
        self.last_error_kind = failure_kind(code)
        self.last_error_at = time.time()
        self.errors_total += 1
        self.failures_in_row += 1

    def note_delivered(self) -> None:
        self.failures_in_row = 0
        self.delivered_at = time.monotonic()

    def problem(self, unready_after: float | None = None, now: float | None = None) -> tuple[str, str] | None:
        """Why the sink is not ready (a reason code and a message), or None. Not ready: after an error
        that needs an operator (mark_not_ready); after UNREADY_AFTER_FAILURES failed attempts in a row;
        or when it has had records to send for `unready_after` and delivered none of them. A sink whose
        spool share is all acknowledged is ready, whatever failed before."""
        now = time.monotonic() if now is None else now
        unready_after = self.unready_after if unready_after is None else unready_after
        if not self.ready:
            return self.not_ready_reason or "not_ready", self.last_error or "not ready"
        if self.idle.is_set():
            self._busy_since = None
            return None
        if self._busy_since is None:
            self._busy_since = now
        stalled = now - max(self.delivered_at, self._busy_since)
        if self.failures_in_row < UNREADY_AFTER_FAILURES and stalled < unready_after:
            return None
        kind = self.last_error_kind if self.failures_in_row else "stalled"
        since = f"; nothing delivered for {stalled:.0f}s" if stalled >= 1 else ""
        what = self.last_error if self.failures_in_row else "records wait and none was delivered"
        return kind, f"{what} ({self.failures_in_row} attempt(s) in a row failed{since})"

    async def open(self) -> None:  # noqa: B027 - most sinks have nothing to prepare
        """Prepare clients before the pipeline starts (credentials are resolved lazily, on first use)."""

    def drain(self) -> None:
        self.draining = True

    def retry_parked(self) -> None:  # noqa: B027 - only sinks that park streams have anything to retry
        """Try parked streams again now (after a SIGHUP: the operator may have fixed the cause)."""

    def parked_streams(self) -> dict[str, str]:
        """Streams parked now and why; a sink that parks nothing has none."""
        return {}

    def count_received(self, blocks: list[StoredBlock]) -> None:
        """Count the records (and their text's bytes) of `blocks` not counted before: a sink that reads
        the same records again after a failure does not receive them twice."""
        events = size = 0
        for block in blocks:
            start = block.start
            if self._received_to.block == block.id:
                start = max(start, self._received_to.index)
            elif self._received_to.block > block.id:
                continue
            messages = block.messages[start:]
            events += len(messages)
            size += utf8_size("".join(messages))  # one C-speed pass, not a call per message
        if blocks:
            self._received_to = max(self._received_to, blocks[-1].end())
        self.received_events.inc(events)
        self.received_bytes.inc(size)

    async def close(self) -> None:  # noqa: B027 - most sinks hold nothing to release
        """Release connections; called once the sink has stopped running."""


def count_sent(sink: Sink, events: int, size: int) -> None:
    sink.sent_events.inc(events)
    sink.sent_bytes.inc(size)
    sink.note_delivered()

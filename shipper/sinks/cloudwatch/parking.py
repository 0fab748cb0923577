"""Parked streams: a log stream CloudWatch refuses for a reason that retrying soon will not fix (its
group is missing and may not be created, access to it is denied, its KMS key unusable), while other
streams of the sink deliver, is *parked*: its batches move to the spool's parked area
(buffer/parked.py), counted as done for the cursor so the other streams go on, and the stream is tried
again with backoff (PARKED_RETRY), at once after a SIGHUP or a restart. A parked stream sends its
parked batches again in order before anything newer; it delivers again once they are all sent.

Guarantees: a parked batch is sent again at least once (a row being sent is marked in the sink's
state, so after a crash it is checked against the stream before it is sent again: reconcile.py); the
parked area is bounded (`parked_max_size`, the oldest discarded and counted); a refusal is only the
stream's when another stream delivered within PARK_IF_OTHERS_DELIVERED_WITHIN, the stream is parked
already, or its records hold the sink's reader up while the parked area has room. Otherwise it is
the sink's problem (a policy that denies every group): the sink is not ready and the records wait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from shipper.backoff import delay
from shipper.buffer.parked import ParkedRow
from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.observe.logs import ComponentLog
from shipper.sinks.cloudwatch.batch import Batch
from shipper.sinks.cloudwatch.streams import StreamQueue
from shipper.sinks.engine import clock

PARK_IF_OTHERS_DELIVERED_WITHIN = 600.0  # seconds: a refused stream is parked if another one delivered since
PARKED_RETRY = (5.0, 300.0)  # backoff range of a parked stream's next try
PARKED_SENDING = "parked-sending:"  # sink state key of a parked row being sent: after a crash, check first


class StreamRefused(Exception):
    """CloudWatch refuses this stream (not the sink) for a reason retrying soon will not fix: park it."""


class Parking:
    def __init__(self, spool: Spool, sink_id: str, labels: tuple[str, str, str], log: ComponentLog, max_size: int,
                 queues: Mapping[tuple[str, str], StreamQueue]):
        self.spool = spool
        self.queues = queues  # the sink's streams (routing.py's table)
        self.area = spool.parked_area
        self.sink_id = sink_id
        self.labels = labels
        self.log = log
        self.max_size = max_size
        self._events = metrics.events_parked.labels(*labels)
        self._gauge = metrics.streams_parked.labels(*labels)
        self._gauge.set(0)
        self._sending: set[str] = set()  # state keys of parked rows sent before a restart

    def is_the_streams(self, queue: StreamQueue, holds_the_reader: bool) -> bool:
        """Whether a refusal of `queue`'s stream is that stream's own problem (park it), not the sink's."""
        now = clock()
        others_deliver = any(other is not queue and other.delivered_at is not None
                             and now - other.delivered_at < PARK_IF_OTHERS_DELIVERED_WITHIN
                             for other in self.queues.values())
        room = self.area.bytes(self.sink_id) < self.max_size
        return queue.parked is not None or others_deliver or (holds_the_reader and room)

    def park_stream(self, queue: StreamQueue, reason: str) -> None:
        """The stream is parked (again): its next try after a backoff."""
        first = queue.parked is None
        queue.parked = reason
        queue.tries += 1
        wait = delay(queue.tries, *PARKED_RETRY)
        queue.retry_at = clock() + wait
        self._count()
        if first:
            self.log.warning("%s/%s parked: %s; its records wait in the parked area (next try in %.0fs), the "
                             "other streams go on", queue.group, queue.stream, reason, wait)

    def set_aside(self, queue: StreamQueue, batch: Batch) -> None:
        """A batch of a parked stream into the parked area (parked_area.trim undoes a park the cursor never
        passed); what goes over `parked_max_size` is discarded, oldest first, and counted."""
        places = [run.place(offset)[:2] for run in batch.runs for offset in range(run.count)]
        discarded = self.area.park(self.sink_id, queue.name, queue.parked or "", batch.events, places, self.max_size)
        self._events.inc(batch.records)
        if discarded:
            metrics.events_discarded.labels(*self.labels, "parked_overflow").inc(discarded)
            self.log.warning("parked records over parked_max_size (%d bytes): the oldest %d discarded",
                             self.max_size, discarded)

    def next_row(self, queue: StreamQueue) -> ParkedRow | None:
        return self.area.next(self.sink_id, queue.name)

    def sending(self, row: ParkedRow) -> bool:
        """Mark `row` as being sent; whether it may have landed already (it was being sent at the last stop)."""
        key = f"{PARKED_SENDING}{row.id}"
        maybe_landed = key in self._sending
        self.spool.save_sink_state(self.sink_id, key, b"")
        self._sending.add(key)
        return maybe_landed

    def sent(self, row: ParkedRow) -> None:
        """`row` is in CloudWatch: out of the parked area, with its mark, in one transaction."""
        key = f"{PARKED_SENDING}{row.id}"
        self.area.unpark(self.sink_id, row.id, forget=[key])
        self._sending.discard(key)

    def delivers_again(self, queue: StreamQueue) -> None:
        self.log.info("%s/%s delivers again; its parked records are all sent", queue.group, queue.stream)
        queue.parked, queue.tries = None, 0
        self._count()

    def retry_all(self) -> None:
        """Every parked stream tried again now (a SIGHUP: the operator may have fixed the cause)."""
        for queue in self.queues.values():
            if queue.parked:
                queue.retry_at = 0.0
                queue.wake.set()

    def parked_streams(self) -> dict[str, str]:
        """`group/stream` -> why, for every stream parked now."""
        return {f"{q.group}/{q.stream}": q.parked for q in self.queues.values() if q.parked}

    def recover(self, queue_named: Callable[[str, str], StreamQueue]) -> None:
        """At start: streams parked before the stop are tried again at once; parks the cursor never
        passed are undone (their records are read again)."""
        dropped = self.area.trim(self.sink_id)
        if dropped:
            self.log.info("%d parked event(s) were parked after the last acknowledgement; reading them again",
                          dropped)
        sending = {key for key in self.spool.sink_state(self.sink_id) if key.startswith(PARKED_SENDING)}
        kept = self.area.ids(self.sink_id)
        gone = {key for key in sending if int(key.removeprefix(PARKED_SENDING)) not in kept}
        self.spool.forget_sink_state(self.sink_id, gone)  # rows dropped by trim or discarded meanwhile
        self._sending = sending - gone
        summaries = self.area.summary(self.sink_id)
        for name, summary in summaries.items():
            group, _, stream = name.partition("\t")
            queue = queue_named(group, stream)
            queue.parked = summary.reason
            queue.retry_at = 0.0
        self._gauge.set(len(summaries))

    def _count(self) -> None:
        self._gauge.set(sum(q.parked is not None for q in self.queues.values()))

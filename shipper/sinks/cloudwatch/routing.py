"""Where each record goes: its (group, stream), named from the record's fields (naming.py), and its
events added to that stream's queue (as its raw text, or as a JSON object: sinks/encoding.py). The
table of streams is bounded: a stream name comes from records, so once the table holds
MAX_IDLE_STREAMS more streams than at the last sweep, those with nothing to send, nothing in flight
and nothing parked are forgotten. A forgotten stream comes back as after a restart (its previous
batch unknown to the next one's ledger row: reconcile.py); the busy ones are bounded by the sink's
MAX_PENDING_EVENTS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shipper.buffer.spool import StoredBlock
from shipper.observe import metrics
from shipper.record import MESSAGE, TIMESTAMP
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions
from shipper.sinks.cloudwatch.entity import Entity, EntityMaker
from shipper.sinks.cloudwatch.naming import Namer
from shipper.sinks.cloudwatch.streams import StreamQueue
from shipper.sinks.encoding import encoded

MAX_IDLE_STREAMS = 1_000  # streams kept with nothing to send; more are forgotten (a stream name comes from records)

Busy = Callable[[StreamQueue], bool]  # whether a stream has work the table cannot see (a batch in flight)


class Router:
    def __init__(self, options: CloudWatchLogsOptions, labels: tuple[str, str, str]):
        self.options = options
        self.namer = Namer(options.group_name, options.stream_name, options.fallback_group_name,
                           options.fallback_stream_name, options.layout)
        self.entities = EntityMaker(options.entity) if options.entity else None
        self.queues: dict[tuple[str, str], StreamQueue] = {}
        self._sweep_at = MAX_IDLE_STREAMS  # the table's size at which idle streams are forgotten
        self._unencodable = metrics.events_discarded.labels(*labels, "unencodable")
        self._fallbacks = metrics.events_fallback_named.labels(*labels)

    def route(self, blocks: list[StoredBlock], segment: int, busy: Busy) -> tuple[set[StreamQueue], int, int, int]:
        """Every record of `blocks` (read as ack segment `segment`) into its stream's queue; returns the
        queues that got events, and the records, events and bytes routed."""
        touched: set[StreamQueue] = set()
        events = records = size = 0
        for block in blocks:
            count = len(block.messages) - block.start
            records += count
            per_record = self.namer.per_record(block.fields[block.start:])
            entity = self.entities.make(block.common) if self.entities else None
            if self.options.encoding == "text" and not per_record:
                queue = self._queue_for(block.common, block.record(block.start), count, busy)
                routed = self._route_text(block, queue, segment, entity)
                touched.add(queue)
            else:
                routed = self._route_each(block, segment, touched, per_record, entity, busy)
            events += routed[0]
            size += routed[1]
        return touched, records, events, size

    def queue_named(self, group: str, stream: str) -> StreamQueue:
        queue = self.queues.get((group, stream))
        if queue is None:
            queue = self.queues[(group, stream)] = StreamQueue(group, stream)
        return queue

    def _route_text(self, block: StoredBlock, queue: StreamQueue, segment: int,
                    entity: Entity | None) -> tuple[int, int]:
        """The hot path: a block whose records all go to one stream as their raw text; returns
        (events, bytes) routed."""
        start = block.start
        stamps = block.timestamps[start:] if start else block.timestamps
        texts = block.messages[start:] if start else block.messages
        return queue.pending.add(stamps, texts, block.id, start, segment, self.options.max_event_size, entity)

    def _route_each(self, block: StoredBlock, segment: int, touched: set[StreamQueue], per_record: bool,
                    entity: Entity | None, busy: Busy) -> tuple[int, int]:
        """Records named one by one (a template names a per-record field) or encoded as JSON."""
        events = size_total = 0
        records = block.records[block.start:]
        block_queue = None if per_record else self._queue_for(block.common, records[0], len(records), busy)
        objects = encoded(block, "json", self.options.layout) if self.options.encoding == "json" else None
        for index, record in enumerate(records, start=block.start):
            queue = self._queue_for(block.common, record, 1, busy) if block_queue is None else block_queue
            if objects is None:
                message = record[MESSAGE]
            else:
                json_object = objects[index - block.start]
                if json_object is None:
                    self._unencodable.inc()
                    continue
                message = json_object.decode("utf-8")
            produced, size = queue.pending.add([record[TIMESTAMP]], [message], block.id, index, segment,
                                               self.options.max_event_size, entity)
            events += produced
            size_total += size
            touched.add(queue)
        return events, size_total

    def _queue_for(self, common: Mapping[str, Any], record: Any, records: int, busy: Busy) -> StreamQueue:
        before = self.namer.fallbacks
        key = self.namer.name(common, record)
        if self.namer.fallbacks != before:
            self._fallbacks.inc(records)
        queue = self.queues.get(key)
        if queue is None:
            if len(self.queues) >= self._sweep_at:
                self._forget_idle_streams(busy)
            queue = self.queues[key] = StreamQueue(*key)
        return queue

    def _forget_idle_streams(self, busy: Busy) -> None:
        idle = [key for key, queue in self.queues.items()
                if not queue.pending and not queue.recovered and not queue.parked and not busy(queue)]
        for key in idle:
            del self.queues[key]
        self._sweep_at = len(self.queues) + MAX_IDLE_STREAMS

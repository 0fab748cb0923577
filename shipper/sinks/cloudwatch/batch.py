"""Events waiting for a log stream, and PutLogEvents batches within every limit of the API.

An *event* is the object PutLogEvents takes, `{"timestamp": ms, "message": text}`, made once when a
record is routed and serialized as it is. A stream's `EventQueue` keeps them in read order with two
parallel columns (their milliseconds and their messages' UTF-8 sizes) and, run-length encoded,
where they came from: each event has a *place* `(block, index, part)` in the spool (part > 0 for the
later pieces of a split message) and the read *segment* that acknowledges it. Columns and runs
instead of one tuple per event: a batch of 5,000 events leaves as slices, its body needs no second
list, and its sizes, places and segments are summed per run, not per event.

Events of one call share one entity (entity.py): the queue keeps, run-length encoded, which entity
each event has, and a batch never crosses from one to the next.

Limits of PutLogEvents: at most 1,048,576 bytes per call counting 26 per event, 10,000 events,
at most 24 hours between the first and the last event, events in chronological order; one event at
most `max_event_size` bytes including the 26 (longer messages are split, never dropped).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, count, repeat
from operator import add, floordiv, itemgetter
from typing import Any, cast

import orjson

from shipper import kernels
from shipper.sinks.cloudwatch.config import EVENT_OVERHEAD
from shipper.sinks.cloudwatch.entity import Entity
from shipper.text import split_utf8, utf8_size, valid_text

MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000 - 1
EMPTY_MESSAGE = " "  # CloudWatch refuses an empty message; an empty line is sent as one space

Event = dict[str, Any]  # {"timestamp": milliseconds, "message": text}
Place = tuple[int, int, int]  # (block, index, part) of an event in the spool
event_time = itemgetter("timestamp")


def one_event_each(timestamps_ns: Sequence[int], messages: Sequence[str],
                   max_event_size: int) -> tuple[list[Event], list[int], list[int]] | None:
    """The usual block: when every message is ASCII (a character is a byte), not empty and fits one
    event, its events, their milliseconds and their sizes, without a Python loop per record; None
    otherwise. The reference of the `_cloudwatch.events` kernel (shipper/kernels/)."""
    sizes = list(map(len, messages))
    if not sizes or min(sizes) == 0 or max(sizes) + EVENT_OVERHEAD > max_event_size \
            or not all(map(str.isascii, messages)):
        return None
    millis = list(map(floordiv, timestamps_ns, repeat(1_000_000)))
    return [{"timestamp": ms, "message": text} for ms, text in zip(millis, messages, strict=True)], millis, sizes


def events_of(timestamps_ns: Sequence[int], messages: Sequence[str],
              max_event_size: int) -> tuple[list[Event], list[int], list[int]] | None:
    """`one_event_each`, by the `_cloudwatch.events` kernel where it is compiled; the reference takes
    what the kernel hands back (NotImplemented: not lists, or a value not of the usual type)."""
    if kernels.cloudwatch is not None:
        made = kernels.cloudwatch.events(timestamps_ns, messages, max_event_size)
        if made is not NotImplemented:
            return cast("tuple[list[Event], list[int], list[int]] | None", made)
    return one_event_each(timestamps_ns, messages, max_event_size)


def event_messages(message: str, max_event_size: int) -> list[str]:
    """The messages of one record's events: one, or several when it is too long for one event."""
    if not message:
        return [EMPTY_MESSAGE]
    message = valid_text(message)  # lone surrogates cannot go into JSON: replaced, never failing the batch
    if utf8_size(message) + EVENT_OVERHEAD <= max_event_size:
        return [message]
    return split_utf8(message, max_event_size - EVENT_OVERHEAD)


@dataclass(slots=True)
class Run:
    """`count` consecutive events from one block and read segment: records `index`, `index + 1`, ...
    (part 0 each), or, when `split`, parts `part`, `part + 1`, ... of the one record `index`."""

    count: int
    block: int
    index: int
    part: int
    segment: int
    split: bool

    def place(self, offset: int) -> Place:
        """The place of the run's event number `offset`."""
        if self.split:
            return self.block, self.index, self.part + offset
        return self.block, self.index + offset, 0

    def cut(self, head: int) -> Run:
        """Remove the first `head` events from this run; returns them as a run of their own."""
        taken = Run(head, self.block, self.index, self.part, self.segment, self.split)
        self.count -= head
        if self.split:
            self.part += head
        else:
            self.index += head
        return taken

    @property
    def records(self) -> int:
        """Records whose first event is in this run (a split record counts once, at its part 0)."""
        return int(self.part == 0) if self.split else self.count


@dataclass(slots=True)
class Batch:
    """Events taken from the front of a stream's queue for one PutLogEvents call, in read order."""

    events: list[Event]
    times: list[int]  # the events' milliseconds
    size: int  # UTF-8 bytes of the messages (without the 26 per event)
    runs: list[Run]
    entity: Entity | None = None

    def __len__(self) -> int:
        return len(self.events)

    @property
    def first(self) -> Place:
        return self.runs[0].place(0)

    @property
    def last(self) -> Place:
        return self.runs[-1].place(self.runs[-1].count - 1)

    @property
    def records(self) -> int:
        return sum(run.records for run in self.runs)

    def segments(self) -> dict[int, int]:
        """How many of the batch's events each read segment holds."""
        counts: dict[int, int] = {}
        for run in self.runs:
            counts[run.segment] = counts.get(run.segment, 0) + run.count
        return counts

    def chronological(self) -> list[Event]:
        """The events sorted by time; events of the same millisecond keep the order they were read in."""
        if self.times == sorted(self.times):  # the usual batch: one container's lines, already in order
            return self.events
        return sorted(self.events, key=event_time)


class EventQueue:
    """The events waiting for one log stream, in read order; batches leave from the front."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.times: list[int] = []
        self.sizes: list[int] = []
        self.runs: deque[Run] = deque()
        self.entities: deque[list[Any]] = deque()  # [count, entity] of consecutive events, in read order
        self.size = 0  # bytes as CloudWatch counts them: messages and 26 per event

    def __len__(self) -> int:
        return len(self.events)

    def full(self) -> bool:
        return len(self.events) >= MAX_BATCH_EVENTS or self.size >= MAX_BATCH_BYTES

    def add(self, timestamps_ns: Sequence[int], messages: Sequence[str], block: int, start: int, segment: int,
            max_event_size: int, entity: Entity | None = None) -> tuple[int, int]:
        """The events of consecutive records of one block (the first at index `start`), about `entity`;
        returns (events, message bytes) added."""
        before = len(self.events)
        one_each = events_of(timestamps_ns, messages, max_event_size)
        if one_each is not None:
            events, millis, sizes = one_each
            self.events += events
            self.times += millis
            self.sizes += sizes
            self._add_run(Run(len(millis), block, start, 0, segment, False))
        else:
            for index, timestamp, message in zip(count(start), timestamps_ns, messages, strict=False):
                self._add_record(timestamp // 1_000_000, event_messages(message, max_event_size), block, index,
                                 segment)
        added = len(self.events) - before
        size = sum(self.sizes[before:])
        self.size += size + EVENT_OVERHEAD * added
        if added:
            if self.entities and self.entities[-1][1] == entity:
                self.entities[-1][0] += added
            else:
                self.entities.append([added, entity])
        return added, size

    def _add_record(self, millis: int, texts: list[str], block: int, index: int, segment: int) -> None:
        self.events += [{"timestamp": millis, "message": text} for text in texts]
        self.times += [millis] * len(texts)
        self.sizes += map(utf8_size, texts)
        self._add_run(Run(len(texts), block, index, 0, segment, len(texts) > 1))

    def _add_run(self, run: Run) -> None:
        last = self.runs[-1] if self.runs else None
        if (last is not None and not run.split and not last.split and last.block == run.block
                and last.segment == run.segment and last.index + last.count == run.index):
            last.count += run.count
        else:
            self.runs.append(run)

    def head(self) -> Place:
        """The place of the first event waiting."""
        return self.runs[0].place(0)

    def count_through(self, last: Place) -> int:
        """How many events from the front have a place up to `last` (places grow along the queue)."""
        total = 0
        for run in self.runs:
            within = bisect_right(range(run.count), last, key=run.place)
            total += within
            if within < run.count:
                break
        return total

    def take(self, limit: int | None = None) -> Batch:
        """Take from the front the longest run of events that fits one PutLogEvents call.

        `limit` caps the number of events taken (used to rebuild a batch recorded before a restart).
        """
        same_entity, entity = self.entities[0] if self.entities else (0, None)
        most = min(MAX_BATCH_EVENTS, len(self.events), MAX_BATCH_EVENTS if limit is None else limit, same_entity)
        if self.size > MAX_BATCH_BYTES:  # else every prefix fits
            most = _within_bytes(self.sizes, most, self._guess())
        times = self.times[:_within_span(self.times, most)]
        taken = len(times)
        batch = Batch(self.events[:taken], times, sum(self.sizes[:taken]), self._take_runs(taken), entity)
        del self.events[:taken], self.times[:taken], self.sizes[:taken]
        if taken:
            self.entities[0][0] -= taken
            if not self.entities[0][0]:
                self.entities.popleft()
        self.size -= batch.size + EVENT_OVERHEAD * taken
        return batch

    def _guess(self) -> int:
        """About how many events of this queue fill a call (where to look for the byte limit first)."""
        return max(256, int(MAX_BATCH_BYTES * 1.1 * len(self.events) / max(1, self.size)))

    def _take_runs(self, taken: int) -> list[Run]:
        runs = []
        while taken:
            run = self.runs[0]
            if run.count > taken:
                runs.append(run.cut(taken))
                break
            runs.append(self.runs.popleft())
            taken -= run.count
        return runs


def _within_bytes(sizes: list[int], most: int, guess: int) -> int:
    """How many of the first `most` events fit the byte limit; found on running totals over chunks of
    about `guess` events (no Python loop per event, and no totals far past the limit)."""
    fits = total = 0
    while fits < most:
        end = min(most, fits + guess)
        costs = list(accumulate(map(add, sizes[fits:end], repeat(EVENT_OVERHEAD)), initial=total))
        within = bisect_right(costs, MAX_BATCH_BYTES) - 1  # costs[0] is the total so far, known to fit
        fits += within
        if fits < end:
            break
        total = costs[-1]
    return fits


def _within_span(times: list[int], count: int) -> int:
    """How many of the first `count` events stay within 24 hours of each other."""
    head = times[:count]
    if not head or max(head) - min(head) <= MAX_BATCH_SPAN_MS:
        return count
    low = high = head[0]
    for taken, timestamp in enumerate(head):
        low, high = min(low, timestamp), max(high, timestamp)
        if high - low > MAX_BATCH_SPAN_MS:
            return taken
    return count


def request_body(group: str, stream: str, events: list[Event], entity: Entity | None = None) -> bytes:
    """The PutLogEvents JSON body (botocore would walk every event twice to serialize it)."""
    body: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "logEvents": events}
    if entity is not None:
        body["entity"] = entity
    return orjson.dumps(body)

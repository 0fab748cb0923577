"""Events and PutLogEvents batches within every limit of the API.

An *event* is a tuple `(timestamp_ms, message, size, block, index, part, segment)`: `size` is the
message's UTF-8 length, `(block, index, part)` its place in the spool (part > 0 for the later pieces
of a split message) and `segment` the read segment that acknowledges it.

Limits (DESIGN section 4): at most 1,048,576 bytes per call counting 26 per event, 10,000 events,
at most 24 hours between the first and the last event, events in chronological order; one event at
most `max_event_size` bytes including the 26 (longer messages are split, never dropped).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate, count, islice, repeat
from operator import add, floordiv, itemgetter
from typing import Any

import orjson

from shipper.sinks.cloudwatch.config import EVENT_OVERHEAD

MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000 - 1
EMPTY_MESSAGE = " "  # CloudWatch refuses an empty message; an empty line is sent as one space

TIMESTAMP, MESSAGE, SIZE, BLOCK, INDEX, PART, SEGMENT = range(7)
Event = tuple[int, str, int, int, int, int, Any]


def utf8_size(message: str) -> int:
    return len(message) if message.isascii() else len(message.encode("utf-8"))


def valid_text(message: str) -> str:
    """The message itself, or, if it holds lone surrogates (not encodable), with them replaced."""
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        return message.encode("utf-8", "replace").decode("utf-8")
    return message


def split_message(message: str, max_bytes: int) -> list[str]:
    """Pieces of at most `max_bytes` UTF-8 bytes each, cut between characters, in order."""
    data = message.encode("utf-8")
    pieces = []
    start = 0
    while start < len(data):
        end = min(start + max_bytes, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never cut inside a character
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


def make_events(timestamp_ms: int, message: str, block: int, index: int, segment: Any,
                max_event_size: int) -> list[Event]:
    """The events of one record: one, or several when the message is too long for one event."""
    if not message:
        message = EMPTY_MESSAGE
    try:
        size = utf8_size(message)
    except UnicodeEncodeError:  # lone surrogates cannot go into JSON: replace them, never fail the batch
        message = valid_text(message)
        size = utf8_size(message)
    if size + EVENT_OVERHEAD <= max_event_size:
        return [(timestamp_ms, message, size, block, index, 0, segment)]
    pieces = split_message(message, max_event_size - EVENT_OVERHEAD)
    return [(timestamp_ms, piece, utf8_size(piece), block, index, part, segment)
            for part, piece in enumerate(pieces)]


def block_events(timestamps_ns: Sequence[int], messages: Sequence[str], block: int, start: int, segment: Any,
                 max_event_size: int) -> tuple[list[Event], int]:
    """The events of consecutive records of one block (the first at index `start`), in order, and
    the UTF-8 bytes of their messages."""
    sizes = list(map(len, messages))
    if sizes and min(sizes) > 0 and max(sizes) + EVENT_OVERHEAD <= max_event_size and all(map(str.isascii, messages)):
        # the usual block: one event per record, made without a Python loop per record (a character is a byte)
        millis = map(floordiv, timestamps_ns, repeat(1_000_000))
        events = list(zip(millis, messages, sizes, repeat(block), count(start), repeat(0), repeat(segment)))
        return events, sum(sizes)
    events = []
    append = events.append
    for index, timestamp, message, size in zip(count(start), timestamps_ns, messages, sizes):
        if size and size + EVENT_OVERHEAD <= max_event_size and message.isascii():
            append((timestamp // 1_000_000, message, size, block, index, 0, segment))
        else:
            events += make_events(timestamp // 1_000_000, message, block, index, segment, max_event_size)
    return events, sum(map(itemgetter(SIZE), events))


def take_batch(queue: list[Event], limit: int | None = None) -> list[Event]:
    """Take from the front of `queue` the longest run of events that fits one PutLogEvents call.

    `limit` caps the number of events taken (used to rebuild a batch recorded before a restart).
    `queue` is a list, not a deque: a batch leaves it in one slice deletion, not one pop per event.
    """
    most = min(MAX_BATCH_EVENTS, limit if limit is not None else MAX_BATCH_EVENTS, len(queue))
    # the longest prefix within the byte limit, found on running totals (no Python loop per event)
    costs = list(accumulate(map(add, map(itemgetter(SIZE), islice(queue, most)), repeat(EVENT_OVERHEAD, most))))
    fits = _within_span(queue, bisect_right(costs, MAX_BATCH_BYTES))
    batch = queue[:fits]
    del queue[:fits]
    return batch


def _within_span(head: Sequence[Event], count: int) -> int:
    """How many of the first `count` events stay within 24 hours of each other."""
    times = list(map(itemgetter(TIMESTAMP), islice(head, count)))
    if not times or max(times) - min(times) <= MAX_BATCH_SPAN_MS:
        return count
    low = high = times[0]
    for taken, timestamp in enumerate(times):
        low, high = min(low, timestamp), max(high, timestamp)
        if high - low > MAX_BATCH_SPAN_MS:
            return taken
    return count


def chronological(batch: Iterable[Event]) -> list[Event]:
    """The batch sorted by time; events of the same millisecond keep the order they were read in."""
    return sorted(batch, key=itemgetter(TIMESTAMP))


def request_body(group: str, stream: str, events: list[Event]) -> bytes:
    """The PutLogEvents JSON body, built in one pass (botocore would walk every event twice)."""
    return orjson.dumps({
        "logGroupName": group,
        "logStreamName": stream,
        "logEvents": [{"timestamp": e[TIMESTAMP], "message": e[MESSAGE]} for e in events],
    })

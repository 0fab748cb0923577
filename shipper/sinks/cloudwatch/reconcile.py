"""No duplicates after a crash: a ledger of batches in flight, and asking a stream what it holds.

Before a batch is sent, a row naming it (group, stream, first and last spool position, time range)
is written to the spool's state table for this sink; once the batch is accepted the row is marked
landed; it is deleted in the transaction that acknowledges the batch's last record. After a crash,
the rows left say which batches of the unacknowledged records were sent: landed ones are skipped,
and for a batch that was in flight the stream's events of its time range are read back
(GetLogEvents) and the batch is skipped if they are all there. The same check runs in a live
process after a failure that may have landed (a connection reset after the request was written).
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter

import orjson

from shipper.sinks.cloudwatch.batch import BLOCK, INDEX, MESSAGE, PART, TIMESTAMP, Event

Place = tuple[int, int, int]  # (block, index, part) of an event in the spool
TOO_OLD_MS = (14 * 24 - 1) * 3600 * 1000  # CloudWatch rejects events older than 14 days
TOO_NEW_MS = (2 * 3600 - 60) * 1000  # ... and more than 2 hours in the future


def place(event: Event) -> Place:
    return (event[BLOCK], event[INDEX], event[PART])


@dataclass
class BatchRow:
    group: str
    stream: str
    first: Place
    last: Place
    landed: bool = False
    overlap: list[tuple[int, str, int]] = field(default_factory=list)  # earlier events the range also holds

    @property
    def key(self) -> str:
        return ":".join(map(str, self.first))

    def encode(self) -> bytes:
        return orjson.dumps({"group": self.group, "stream": self.stream, "first": self.first, "last": self.last,
                             "landed": self.landed, "overlap": self.overlap})

    @classmethod
    def decode(cls, value: bytes) -> BatchRow:
        data = orjson.loads(value)
        return cls(data["group"], data["stream"], tuple(data["first"]), tuple(data["last"]), data["landed"],
                   [tuple(item) for item in data["overlap"]])


def row_for(group: str, stream: str, batch: list[Event], ordered: list[Event], previous: list[Event]) -> BatchRow:
    """The ledger row of a batch, given in read order and `ordered` (chronological), and the
    stream's previous batch (chronological).

    Events of the previous batch that share a millisecond and a text with this one are recorded:
    the check after a crash must find them in addition to this batch's own.
    """
    row = BatchRow(group, stream, place(batch[0]), place(batch[-1]))
    if previous:
        time_of = itemgetter(TIMESTAMP)
        # only the previous batch's tail can reach into this batch's range, and only its head back
        reaching = previous[bisect_left(previous, time_of(ordered[0]), key=time_of):]
        earlier = Counter(map(itemgetter(TIMESTAMP, MESSAGE), reaching))
        if earlier:
            reached = ordered[:bisect_right(ordered, time_of(previous[-1]), key=time_of)]
            wanted = set(map(itemgetter(TIMESTAMP, MESSAGE), reached))
            row.overlap = [(ts, message, n) for (ts, message), n in earlier.items() if (ts, message) in wanted]
    return row


def expected(batch: list[Event], row: BatchRow, now_ms: int | None = None) -> Counter:
    """How many times each (timestamp, message) must be in the stream if the batch landed.

    Events CloudWatch would have refused for their age are left out: they are never there.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    oldest, newest = now_ms - TOO_OLD_MS, now_ms + TOO_NEW_MS
    want = Counter((e[TIMESTAMP], e[MESSAGE]) for e in batch if oldest <= e[TIMESTAMP] <= newest)
    for ts, message, count in row.overlap:
        if (ts, message) in want:
            want[(ts, message)] += count
    return want


def all_there(want: Counter, found: list[tuple[int, str]]) -> bool:
    have = Counter(found)
    return all(have[key] >= count for key, count in want.items())

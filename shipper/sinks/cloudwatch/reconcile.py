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

from shipper.sinks.cloudwatch.batch import Batch, Event, Place, event_time

Overlap = list[tuple[int, str, int]]  # (timestamp, message, times) of earlier events a batch's range holds
_pair = itemgetter("timestamp", "message")
TOO_OLD_MS = (14 * 24 - 1) * 3600 * 1000  # CloudWatch rejects events older than 14 days
TOO_NEW_MS = (2 * 3600 - 60) * 1000  # ... and more than 2 hours in the future


@dataclass
class BatchRow:
    group: str
    stream: str
    first: Place
    last: Place
    landed: bool = False
    overlap: Overlap = field(default_factory=list)

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


def row_for(group: str, stream: str, batch: Batch, ordered: list[Event], previous: list[Event]) -> BatchRow:
    """The ledger row of a batch, given its events in `ordered` (chronological), and the stream's
    previous batch (chronological).

    Events of the previous batch that share a millisecond and a text with this one are recorded:
    the check after a crash must find them in addition to this batch's own.
    """
    row = BatchRow(group, stream, batch.first, batch.last)
    if previous:
        # only the previous batch's tail can reach into this batch's range, and only its head back
        reaching = previous[bisect_left(previous, event_time(ordered[0]), key=event_time):]
        earlier = Counter(map(_pair, reaching))
        if earlier:
            reached = ordered[:bisect_right(ordered, event_time(previous[-1]), key=event_time)]
            wanted = set(map(_pair, reached))
            row.overlap = [(ts, message, n) for (ts, message), n in earlier.items() if (ts, message) in wanted]
    return row


def expected(events: list[Event], overlap: Overlap, now_ms: int | None = None) -> Counter[tuple[int, str]]:
    """How many times each (timestamp, message) must be in the stream if the events landed, with
    the `overlap` of their ledger row.

    Events CloudWatch would have refused for their age are left out: they are never there.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    oldest, newest = now_ms - TOO_OLD_MS, now_ms + TOO_NEW_MS
    want = Counter(pair for pair in map(_pair, events) if oldest <= pair[0] <= newest)
    for ts, message, count in overlap:
        if (ts, message) in want:
            want[(ts, message)] += count
    return want


def all_there(want: Counter[tuple[int, str]], found: list[tuple[int, str]]) -> bool:
    have = Counter(found)
    return all(have[key] >= count for key, count in want.items())

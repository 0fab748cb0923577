"""In-order acknowledgement for sinks whose batches finish out of order (one request per stream).

A sink reads the spool in *segments* (one read each) and counts, per batch, how many of its events
each segment holds (the CloudWatch sink from the runs of its event queues). The spool cursor moves
past a segment once all of its events, and those of every earlier segment, are delivered: the
cursor never passes a record still in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping

from shipper.buffer.spool import Position, Spool


class Segment:
    __slots__ = ("end", "number", "outstanding", "sealed")

    def __init__(self, number: int, end: Position):
        self.number = number
        self.end = end
        self.outstanding = 0
        self.sealed = False  # every event of the segment has been counted in `outstanding`


class AckTracker:
    def __init__(self, spool: Spool, sink_id: str, on_empty: Callable[[], None]):
        self.spool = spool
        self.sink_id = sink_id
        self._segments: deque[Segment] = deque()
        self._numbered: dict[int, Segment] = {}
        self._next_number = 0
        self._on_empty = on_empty
        self._forget: dict[str, tuple[int, int]] = {}  # state key -> the record whose ack makes it useless

    def open(self, end: Position) -> int:
        """A new segment ending at `end`; returns its number."""
        self._next_number += 1
        segment = Segment(self._next_number, end)
        self._segments.append(segment)
        self._numbered[segment.number] = segment
        return self._next_number

    def seal(self, number: int, events: int) -> None:
        segment = self._numbered[number]
        segment.outstanding += events
        segment.sealed = True
        self._advance()

    def done(self, counts: Mapping[int, int]) -> None:
        """Delivered (or dropped) events, counted by the number of the segment they came from."""
        for number, count in counts.items():
            self._numbered[number].outstanding -= count
        self._advance()

    def forget_when_acked(self, block: int, index: int, key: str) -> None:
        """Delete the sink's state row `key` once the record at (block, index) is acknowledged."""
        self._forget[key] = (block, index)

    @property
    def empty(self) -> bool:
        return not self._segments

    def _advance(self) -> None:
        position = None
        segments = self._segments
        while segments and segments[0].sealed and segments[0].outstanding <= 0:
            segment = segments.popleft()
            del self._numbered[segment.number]
            position = segment.end
        if position is None:
            return
        forget = [key for key, at in self._forget.items() if at < position]
        for key in forget:
            del self._forget[key]
        self.spool.ack(self.sink_id, position, forget)
        if not segments:
            self._on_empty()

    def forgotten(self, key: str) -> bool:
        return key not in self._forget

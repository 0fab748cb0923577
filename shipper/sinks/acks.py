"""In-order acknowledgement for sinks whose batches finish out of order (one request per stream).

A sink reads the spool in *segments* (one read each); every event routed from a segment holds a
reference to it. The spool cursor moves past a segment once all of its events, and those of every
earlier segment, are delivered: the cursor never passes a record still in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from shipper.buffer.spool import Position, Spool


class Segment:
    __slots__ = ("end", "outstanding", "sealed")

    def __init__(self, end: Position):
        self.end = end
        self.outstanding = 0
        self.sealed = False  # every event of the segment has been counted in `outstanding`


class AckTracker:
    def __init__(self, spool: Spool, sink_id: str, on_empty: Callable[[], None]):
        self.spool = spool
        self.sink_id = sink_id
        self._segments: deque[Segment] = deque()
        self._on_empty = on_empty
        self._forget: dict[str, tuple[int, int]] = {}  # state key -> the record whose ack makes it useless

    def open(self, end: Position) -> Segment:
        segment = Segment(end)
        self._segments.append(segment)
        return segment

    def seal(self, segment: Segment, events: int) -> None:
        segment.outstanding += events
        segment.sealed = True
        self._advance()

    def done(self, segments: Iterable[Segment]) -> None:
        """One call per delivered (or dropped) event, given as the segment each came from."""
        for segment in segments:
            segment.outstanding -= 1
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
            position = segments.popleft().end
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

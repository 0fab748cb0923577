"""Records cut into request batches within a count and a byte limit: the loop of the sinks that send
requests of records (http, opentelemetry, google_cloud_logging).

A builder encodes each block's records at once (`encode`: what it made, and the running total of
their sizes); a batch takes as many as fit, found by bisecting the totals (in C), never record by
record, and at least one when it is empty (a record alone over the byte limit goes alone). Each batch
knows the spool position after its last record and its first and last record times; the last batch
stays open until it is full or taken (batching.py: at the batch timeout).
"""

from __future__ import annotations

import bisect
import itertools
import operator
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from shipper.buffer.spool import Position, StoredBlock


class CutBatch(Protocol):
    end: Position
    first_time: float
    last_time: float
    size: int

    @property
    def events(self) -> int: ...


Made = TypeVar("Made")  # a block's records as a builder encoded them
Cut = TypeVar("Cut", bound=CutBatch)


class BatchCutter(ABC, Generic[Made, Cut]):
    """The batches of what a sink reads, in spool order."""

    def __init__(self, max_bytes: int, max_events: int):
        self.max_bytes, self.max_events = max_bytes, max_events
        self._open: Cut | None = None
        self.opened_at = 0.0  # when the open batch got its first record, on the engine's clock

    @abstractmethod
    def encode(self, block: StoredBlock) -> tuple[Made, list[int]]:
        """The block's records from its start, encoded, and the running total of their sizes."""

    @abstractmethod
    def new_batch(self, first_time: float) -> Cut:
        """An empty batch whose first record has this time (seconds)."""

    @abstractmethod
    def put(self, batch: Cut, made: Made, start: int, stop: int, size: int) -> None:
        """Records `start` to `stop` of what `encode` made, `size` bytes, into `batch`."""

    def joining(self, batch: Cut, made: Made) -> int:
        """Bytes `batch` takes beyond the records' own to hold records of this block (none by default)."""
        return 0

    @property
    def holding(self) -> bool:
        return self._open is not None

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[Cut]:
        """The batches `blocks` fill; the rest stays in the open batch."""
        for block in blocks:
            made, ends = self.encode(block)
            stamps, first, done = block.timestamps, block.start, 0
            while done < len(ends):
                batch = self._open
                if batch is None:
                    batch = self._open = self.new_batch(stamps[first + done] / 1e9)
                    self.opened_at = now
                taken = self._fitting(batch, ends, done, self.joining(batch, made))
                if taken == 0:
                    yield batch
                    self._open = None
                    continue
                before = ends[done - 1] if done else 0
                self.put(batch, made, done, done + taken, ends[done + taken - 1] - before)
                done += taken
                batch.end = Position(block.id, first + done)
                batch.last_time = stamps[first + done - 1] / 1e9
                if batch.events >= self.max_events:  # full: it goes now, not at the batch timeout
                    yield batch
                    self._open = None

    def _fitting(self, batch: Cut, ends: list[int], start: int, joining: int) -> int:
        """How many records from `start` the batch takes within both limits."""
        before = ends[start - 1] if start else 0
        stop = min(len(ends), start + self.max_events - batch.events)
        fitting = bisect.bisect_right(ends, before + self.max_bytes - batch.size - joining, start, stop) - start
        return fitting if fitting or batch.events else min(1, len(ends) - start)

    def take(self) -> Cut | None:
        """The open batch, however full."""
        batch, self._open = self._open, None
        return batch


def running_sizes(items: list[bytes | None], separator: int = 0) -> list[int]:
    """The running total of the items' sizes, each with `separator` bytes after it; an item that could
    not be encoded (None) weighs nothing."""
    if None in items:
        sizes = [len(item) + separator if item is not None else 0 for item in items]
    else:
        sizes = list(map(operator.add, map(len, items), itertools.repeat(separator)))  # type: ignore[arg-type]
    return list(itertools.accumulate(sizes))

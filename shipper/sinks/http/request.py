"""Request bodies: records cut into batches within `max_batch_events` and `max_batch_bytes`, each
batch knowing the spool position after its last record (where the cursor may go once it is accepted).

Records are encoded by sinks/encoding.py; one that cannot be encoded is left out and counted.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import operator
from collections.abc import Iterator
from dataclasses import dataclass

from shipper.buffer.spool import Position, StoredBlock
from shipper.sinks.encoding import encoded

GZIP_LEVEL = 6  # zlib's default: most of the ratio of 9 at a third of its CPU


@dataclass(slots=True)
class Batch:
    items: list[bytes]  # each record, encoded
    end: Position  # just after the batch's last record
    size: int  # bytes of the body before compression
    first_time: float = 0.0  # record times (s) of the first and the last, for the delivery latency
    last_time: float = 0.0
    unencodable: int = 0  # records left out: they could not be encoded

    @property
    def events(self) -> int:
        return len(self.items)

    def halves(self) -> tuple[Batch, Batch] | None:
        """Two batches of half the records each (a server refused the whole as too large); None for one."""
        if self.events < 2:
            return None
        middle = len(self.items) // 2
        first, second = self.items[:middle], self.items[middle:]
        return (Batch(first, self.end, sum(map(len, first)) + len(first), self.first_time, self.last_time),
                Batch(second, self.end, sum(map(len, second)) + len(second), self.first_time, self.last_time))


class RequestBuilder:
    """Cuts what the sink reads into batches; the last batch stays open until it is full or taken."""

    def __init__(self, encoding: str, compression: str, max_bytes: int, max_events: int, layout: str = "shipper"):
        self.encoding, self.compression, self.layout = encoding, compression, layout
        self.max_bytes, self.max_events = max_bytes, max_events
        self.content_type = "text/plain; charset=utf-8" if encoding == "text" else \
            "application/x-ndjson" if encoding == "ndjson" else "application/json"
        self._open: Batch | None = None
        self.opened_at = 0.0  # monotonic time the open batch got its first record

    @property
    def holding(self) -> bool:
        return self._open is not None

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[Batch]:
        """The batches `blocks` fill, in spool order; the rest stays in the open batch. A block's
        records are encoded together and cut where the limits fall (sizes summed and searched in C)."""
        for block in blocks:
            items = encoded(block, "text" if self.encoding == "text" else "json", self.layout)
            timestamps, first = block.timestamps, block.start
            done = 0
            while done < len(items):
                batch = self._open
                if batch is None:
                    batch = self._open = Batch([], Position(block.id, first + done), 0,
                                               timestamps[first + done] / 1e9)
                    self.opened_at = now
                taken = self._fitting(batch, items, done)
                if taken == 0:
                    yield batch
                    self._open = None
                    continue
                chunk = items[done:done + taken]
                if None in chunk:
                    batch.unencodable += chunk.count(None)
                    chunk = [item for item in chunk if item is not None]
                batch.items += chunk  # type: ignore[arg-type]  # the Nones are gone
                batch.size += sum(map(len, chunk)) + len(chunk)  # type: ignore[arg-type]
                done += taken
                batch.end = Position(block.id, first + done)
                batch.last_time = timestamps[first + done - 1] / 1e9
                if len(batch.items) >= self.max_events:  # full: it goes now, not at the batch timeout
                    yield batch
                    self._open = None

    def _fitting(self, batch: Batch, items: list[bytes | None], start: int) -> int:
        """How many of `items` from `start` the batch takes within both limits (at least one when it is
        empty: a record alone larger than `max_batch_bytes` goes alone)."""
        candidates = items[start:start + self.max_events - len(batch.items)]
        if None in candidates:  # rare: records that could not be encoded weigh nothing
            sizes = [len(item) + 1 if item is not None else 0 for item in candidates]
        else:
            sizes = list(map(operator.add, map(len, candidates), itertools.repeat(1)))  # type: ignore[arg-type]
        fitting = bisect.bisect_right(list(itertools.accumulate(sizes)), self.max_bytes - batch.size)
        return fitting if fitting or batch.items else min(1, len(candidates))

    def take(self) -> Batch | None:
        """The open batch, however full."""
        batch, self._open = self._open, None
        return batch

    def body(self, batch: Batch) -> bytes:
        if self.encoding == "json_array":
            body = b"[" + b",".join(batch.items) + b"]"
        else:
            body = b"\n".join(batch.items) + b"\n" if batch.items else b""
        return gzip.compress(body, GZIP_LEVEL, mtime=0) if self.compression == "gzip" else body

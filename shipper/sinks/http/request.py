"""Request bodies: records cut into batches within `max_batch_events` and `max_batch_bytes`, each
batch knowing the spool position after its last record (where the cursor may go once it is accepted).

Records are encoded by sinks/encoding.py; one that cannot be encoded is left out and counted.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from shipper.buffer.spool import Position, StoredBlock
from shipper.sinks.cutting import BatchCutter, running_sizes
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


class RequestBuilder(BatchCutter[list[bytes | None], Batch]):
    """Cuts what the sink reads into batches (cutting.py); a record that cannot be encoded weighs
    nothing and is counted in its batch."""

    def __init__(self, encoding: str, compression: str, max_bytes: int, max_events: int, layout: str = "shipper"):
        super().__init__(max_bytes, max_events)
        self.encoding, self.compression, self.layout = encoding, compression, layout
        self.content_type = "text/plain; charset=utf-8" if encoding == "text" else \
            "application/x-ndjson" if encoding == "ndjson" else "application/json"

    def encode(self, block: StoredBlock) -> tuple[list[bytes | None], list[int]]:
        items = encoded(block, "text" if self.encoding == "text" else "json", self.layout)
        return items, running_sizes(items, 1)

    def new_batch(self, first_time: float) -> Batch:
        return Batch([], Position(0, 0), 0, first_time)

    def put(self, batch: Batch, made: list[bytes | None], start: int, stop: int, size: int) -> None:
        chunk = made[start:stop]
        if None in chunk:
            batch.unencodable += chunk.count(None)
            chunk = [item for item in chunk if item is not None]
        batch.items += chunk  # type: ignore[arg-type]  # the Nones are gone
        batch.size += size

    def body(self, batch: Batch) -> bytes:
        if self.encoding == "json_array":
            body = b"[" + b",".join(batch.items) + b"]"
        else:
            body = b"\n".join(batch.items) + b"\n" if batch.items else b""
        return gzip.compress(body, GZIP_LEVEL, mtime=0) if self.compression == "gzip" else body

"""Request bodies: records cut into batches within `max_batch_events` and `max_batch_bytes`, each
batch knowing the spool position after its last record (where the cursor may go once it is accepted).

Encoding is total: a record that cannot be written as JSON (a value orjson refuses) is written with
the offending values as their JSON text; one that still cannot is left out and counted, never
stopping a batch.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from shipper.buffer.columns import storable_mapping
from shipper.buffer.spool import Position, StoredBlock
from shipper.record import MESSAGE, Record, as_event
from shipper.text import valid_text

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

    def halves(self) -> tuple[Batch, Batch]:
        """Two batches of half the records each (a server refused the whole as too large)."""
        middle = len(self.items) // 2
        first, second = self.items[:middle], self.items[middle:]
        return (Batch(first, self.end, sum(map(len, first)) + len(first), self.first_time, self.last_time),
                Batch(second, self.end, sum(map(len, second)) + len(second), self.first_time, self.last_time))


class RequestBuilder:
    """Cuts what the sink reads into batches; the last batch stays open until it is full or taken."""

    def __init__(self, encoding: str, compression: str, max_bytes: int, max_events: int):
        self.encoding, self.compression = encoding, compression
        self.max_bytes, self.max_events = max_bytes, max_events
        self.content_type = "text/plain; charset=utf-8" if encoding == "text" else \
            "application/x-ndjson" if encoding == "ndjson" else "application/json"
        self._open: Batch | None = None
        self.opened_at = 0.0  # monotonic time the open batch got its first record

    @property
    def holding(self) -> bool:
        return self._open is not None

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[Batch]:
        """The batches `blocks` fill, in spool order; the rest stays in the open batch."""
        for block in blocks:
            common, timestamps = block.common, block.timestamps
            for index in range(block.start, len(block.messages)):
                item = self._encode(common, block.record(index))
                batch = self._open
                if batch is not None and batch.items and item is not None and (
                        batch.size + len(item) + 1 > self.max_bytes or len(batch.items) >= self.max_events):
                    yield batch
                    batch = None
                if batch is None:
                    batch = self._open = Batch([], Position(block.id, index), 0, timestamps[index] / 1e9)
                    self.opened_at = now
                if item is None:
                    batch.unencodable += 1
                else:
                    batch.items.append(item)
                    batch.size += len(item) + 1
                batch.end = Position(block.id, index + 1)
                batch.last_time = timestamps[index] / 1e9

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

    def _encode(self, common: Mapping[str, Any], record: Record) -> bytes | None:
        if self.encoding == "text":
            return valid_text(record[MESSAGE]).encode("utf-8")
        event = as_event(common, record)
        try:
            return orjson.dumps(event)
        except (TypeError, orjson.JSONEncodeError):
            pass
        try:  # a value orjson refuses (a lone surrogate, an integer past 64 bits): as its text
            return orjson.dumps(storable_mapping(event))
        except (TypeError, orjson.JSONEncodeError):
            return None

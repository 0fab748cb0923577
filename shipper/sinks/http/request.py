"""Request bodies: records cut into batches within `max_batch_events` and `max_batch_bytes`, each
batch knowing the spool position after its last record (where the cursor may go once it is accepted).

Encoding is total: a record that cannot be written as JSON (a value orjson refuses) is written with
the offending values as their JSON text; one that still cannot is left out and counted, never
stopping a batch.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from shipper.buffer.columns import storable_mapping
from shipper.buffer.spool import Position, StoredBlock
from shipper.record import MESSAGE, Record, as_event, rfc3339
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


def _tail(common: Mapping[str, Any], own: Mapping[str, Any] | None) -> bytes | None:
    """The JSON after `"message":...` of a record with these fields (as `as_event` orders and
    overrides them); None when they cannot be written as JSON as they are."""
    if "timestamp" in common or "message" in common:  # never the agent's own, but then as_event decides
        return None
    event = {"timestamp": None, "message": None, **common}
    if own:
        event.update((key, value) for key, value in own.items() if key not in event)
    del event["timestamp"], event["message"]
    try:
        text = orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return b"," + text[1:-1] + b"}" if len(text) > 2 else b"}"


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
        """The batches `blocks` fill, in spool order; the rest stays in the open batch. A block's
        records are encoded together and cut where the limits fall (sizes summed and searched in C)."""
        for block in blocks:
            items = self._items(block)
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

    def _items(self, block: StoredBlock) -> list[bytes | None]:
        """Each record of `block` from its start, encoded. What follows the message (the block's
        common fields and the record's own) is written once per distinct fields mapping of the block
        (records share them: a CRI stream's `{"stream": "stdout"}`), then joined to each time and
        message: the same JSON as `as_event` gives, at a fraction of the cost."""
        start, messages = block.start, block.messages
        if self.encoding == "text":
            return [valid_text(message).encode("utf-8") for message in messages[start:]]
        common, fields, timestamps = block.common, block.fields, block.timestamps
        tails: dict[int, bytes | None] = {}
        out: list[bytes | None] = []
        for index in range(start, len(messages)):
            own = fields[index]
            key = id(own)
            tail = tails[key] if key in tails else tails.setdefault(key, _tail(common, own))
            if tail is not None:
                try:
                    out.append(b'{"timestamp":"' + rfc3339(timestamps[index]).encode() + b'","message":'
                               + orjson.dumps(messages[index]) + tail)
                    continue
                except orjson.JSONEncodeError:
                    pass
            out.append(self._encode(common, block.record(index)))
        return out

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

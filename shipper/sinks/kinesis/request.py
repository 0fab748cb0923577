"""Stream records, and the batches of one PutRecordBatch or PutRecords call.

A log record becomes one line (its JSON object or its text, then a newline; sinks/encoding.py). A
stream record holds one line, or, with `pack`, as many consecutive lines of one partition key as fit
the record size limit. A line longer than a record is split between characters into several lines,
in order (counted); with `encoding: json` each piece is a whole JSON object carrying a piece of the
message. A batch holds at most the API's records per call and bytes per call (data and keys, as AWS
counts them).

Each stream record knows the spool position after it: after its last log record, or, for a piece
of a split log record that is not the last, the position *of* that log record (the cursor never
passes a log record before its last piece is accepted: a crash sends it again whole).
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from shipper.buffer.spool import Position, StoredBlock
from shipper.record import lookup
from shipper.sinks.encoding import encoded, json_object
from shipper.templates import MissingField, Template, varies_per_record
from shipper.text import split_utf8, utf8_size

GZIP_LEVEL = 6  # zlib's default: most of the ratio of 9 at a third of its CPU
GZIP_SLACK = 64  # bytes kept free in a record that will be compressed, plus 1 per 1,000: gzip may grow what
# it cannot shrink (18 bytes of header and trailer, 5 per stored 16 KiB)
MAX_KEY_CHARS = 256  # Kinesis: a partition key is 1-256 Unicode characters
RANDOM_KEY_CHARS = 32  # at most, of a random key (12 hex digits and a hexadecimal counter)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one call may carry, as the service documents it."""

    records: int  # stream records per call
    call_bytes: int  # data and partition keys of a call
    record_bytes: int  # data and partition key of one stream record


FIREHOSE = Limits(500, 4 * 1024 * 1024, 1_024_000)
KINESIS_STREAMS = Limits(500, 5 * 1024 * 1024, 1024 * 1024)


@dataclass(slots=True)
class Batch:
    """Stream records for one call, as parallel lists."""

    records: list[bytes] = field(default_factory=list)  # the data of each
    keys: list[str] = field(default_factory=list)  # its partition key ("" where the API takes none)
    events: list[int] = field(default_factory=list)  # log records that end in it
    sizes: list[int] = field(default_factory=list)  # bytes AWS counts for it: data and key
    end: Position = field(default_factory=lambda: Position(0, 0))  # just after the last log record the batch finishes
    first_time: float = 0.0  # record times (s) of the first and the last, for the delivery latency
    last_time: float = 0.0
    unencodable: int = 0  # log records left out: they could not be encoded
    split: int = 0  # log records split over several stream records

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def subset(self, indices: list[int]) -> Batch:
        """The stream records at `indices`, in order (those a call did not take, to send again)."""
        return Batch([self.records[i] for i in indices], [self.keys[i] for i in indices],
                     [self.events[i] for i in indices], [self.sizes[i] for i in indices], self.end,
                     self.first_time, self.last_time)


@dataclass(slots=True)
class _Units:
    """Stream records made from one block, before they are cut into batches."""

    records: list[bytes] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # the block's index after each (the spool position's)
    split: int = 0

    def add(self, record: bytes, key: str, events: int, end: int) -> None:
        self.records.append(record)
        self.keys.append(key)
        self.events.append(events)
        self.ends.append(end)


class PartitionKeys:
    """Each log record's partition key: from the template, or random (a random prefix and a counter:
    Kinesis hashes keys with MD5, so consecutive ones spread over every shard, at no cost)."""

    def __init__(self, template: str | None, layout: str = "shipper"):
        self.template = Template(template, layout) if template else None
        self._roots = frozenset(path[0] for path in self.template.fields) if self.template else frozenset()
        self._prefix = os.urandom(6).hex()
        self._count = itertools.count()
        self.fallbacks = 0  # log records given a random key for want of a field, since last read

    @property
    def random(self) -> bool:
        return self.template is None

    def fresh(self) -> str:
        return f"{self._prefix}{next(self._count):x}"

    def of_block(self, block: StoredBlock) -> list[str] | str:
        """One key for the whole block when no record overrides a field the template names, else one per record."""
        template = self.template
        assert template is not None
        if varies_per_record(self._roots, block.fields[block.start:]):
            return [self._render(block, index) for index in range(block.start, len(block.messages))]
        return self._render(block, block.start)

    def _render(self, block: StoredBlock, index: int) -> str:
        record = block.record(index)
        try:
            key = self.template.render(lambda path: lookup(block.common, record, path))  # type: ignore[union-attr]
        except MissingField:
            self.fallbacks += 1
            return self.fresh()
        return key[:MAX_KEY_CHARS]


class RecordBuilder:
    """Cuts what the sink reads into batches; the last batch stays open until it is full or taken."""

    def __init__(self, limits: Limits, encoding: str, pack: bool, compression: str, keys: PartitionKeys | None,
                 layout: str = "shipper"):
        self.limits, self.layout = limits, layout
        self.encoding, self.pack, self.gzip = encoding, pack, compression == "gzip"
        self.keys = keys  # None: the API takes no partition key (Firehose)
        self._open: Batch | None = None
        self.opened_at = 0.0  # monotonic time the open batch got its first record

    @property
    def holding(self) -> bool:
        return self._open is not None

    def take(self) -> Batch | None:
        """The open batch, however full."""
        batch, self._open = self._open, None
        return batch

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[Batch]:
        """The batches `blocks` fill, in spool order; the rest stays in the open batch."""
        for block in blocks:
            units, unencodable = self._units(block)
            if self._open is None:
                self._open = Batch(end=Position(block.id, block.start), first_time=block.timestamps[block.start] / 1e9)
                self.opened_at = now
            self._open.unencodable += unencodable
            self._open.split += units.split
            done = 0
            while done < len(units.records):
                batch = self._open
                taken = self._fitting(batch, units, done)
                if taken == 0:
                    yield batch
                    self._open = Batch(end=batch.end, first_time=block.timestamps[block.start] / 1e9)
                    self.opened_at = now
                    continue
                stop = done + taken
                batch.records += units.records[done:stop]
                batch.keys += units.keys[done:stop]
                batch.events += units.events[done:stop]
                batch.sizes += self._sizes(units, done, stop)
                batch.end = Position(block.id, units.ends[stop - 1])
                done = stop
            self._open.end = block.end()  # every record of the block is in this batch or an earlier one
            self._open.last_time = block.timestamps[-1] / 1e9
            if len(self._open.records) >= self.limits.records:  # full: it goes now, not at the batch timeout
                yield self._open
                self._open = None

    def _sizes(self, units: _Units, start: int, stop: int) -> list[int]:
        keys = units.keys[start:stop]
        key_sizes = [len(key) if key.isascii() else utf8_size(key) for key in keys]
        return [len(record) + key_size for record, key_size in zip(units.records[start:stop], key_sizes, strict=True)]

    def _fitting(self, batch: Batch, units: _Units, start: int) -> int:
        """How many stream records from `start` the batch takes within both call limits (at least one when
        it is empty: every stream record fits a call alone)."""
        stop = min(len(units.records), start + self.limits.records - len(batch.records))
        sizes = self._sizes(units, start, stop)
        room = self.limits.call_bytes - batch.size
        fitting = bisect.bisect_right(list(itertools.accumulate(sizes)), room)
        return fitting if fitting or batch.records else min(1, stop - start)

    # -- stream records of one block ---------------------------------------------------------------

    def _units(self, block: StoredBlock) -> tuple[_Units, int]:
        lines = encoded(block, self.encoding, self.layout)
        keys: list[str] | str
        if self.keys is None:
            keys = ""
        elif self.keys.random:
            keys = "" if self.pack else [self.keys.fresh() for _ in lines]  # packed: a key per stream record
        else:
            keys = self.keys.of_block(block)
        units = _Units()
        unencodable = 0
        start = block.start
        if self.pack:
            unencodable = self._packed(block, lines, keys, units)
        elif not self.gzip and None not in lines and self._all_fit(lines, keys):  # the usual block: no loop of ours
            units.records = [line + b"\n" for line in lines]  # type: ignore[operator]  # no None, checked
            units.keys = [keys] * len(lines) if isinstance(keys, str) else keys
            units.events = [1] * len(lines)
            units.ends = list(range(start + 1, start + len(lines) + 1))
        else:
            for offset, line in enumerate(lines):
                key = keys if isinstance(keys, str) else keys[offset]
                if line is None:
                    unencodable += 1
                    continue
                self._alone(block, start + offset, line, key, units)
        return units, unencodable

    def _packed(self, block: StoredBlock, lines: list[bytes | None], keys: list[str] | str, units: _Units) -> int:
        """Consecutive lines of one key joined into stream records up to the record size."""
        if isinstance(keys, str) and None not in lines and self._all_fit(lines, keys):
            self._packed_runs(block.start, cast(list[bytes], lines), keys, units)
            return 0
        return self._packed_one_by_one(block, lines, keys, units)

    def _packed_one_by_one(self, block: StoredBlock, lines: list[bytes | None], keys: list[str] | str,
                           units: _Units) -> int:
        """`_packed` line by line: keys that change, lines that could not be encoded or need splitting."""
        unencodable = 0
        start = block.start
        run: list[bytes] = []
        run_key = ""
        run_size = 0
        run_end = start

        def close() -> None:
            nonlocal run, run_size
            if run:
                key = run_key or self._fresh_key()
                units.add(self._data(b"".join(run)), key, len(run), run_end)
                run, run_size = [], 0

        for offset, line in enumerate(lines):
            key = keys if isinstance(keys, str) else keys[offset]
            if line is None:
                unencodable += 1
                continue
            size = len(line) + 1
            budget = self._budget(key)
            if size > budget:  # alone, in pieces
                close()
                self._alone(block, start + offset, line, key, units)
                run_end = units.ends[-1]
                continue
            if run and (key != run_key or run_size + size > budget):
                close()
            run.append(line + b"\n")
            run_key, run_size = key, run_size + size
            run_end = start + offset + 1
        close()
        return unencodable

    def _packed_runs(self, start: int, lines: list[bytes], key: str, units: _Units) -> None:
        """`_packed` for the usual block (one key, every line encoded and within a record): the same
        greedy runs, each cut where the running size would pass the budget, found by bisection over the
        lines' running sizes instead of a step per line."""
        budget = self._budget(key)
        ends = list(itertools.accumulate(map(len, lines), lambda total, size: total + size + 1, initial=0))
        first = 0
        while first < len(lines):
            last = bisect.bisect_right(ends, ends[first] + budget, first + 1) - 1  # ends[first+1] fits: _all_fit
            units.add(self._data(b"\n".join(lines[first:last]) + b"\n"), key or self._fresh_key(), last - first,
                      start + last)
            first = last

    def _fresh_key(self) -> str:
        """A random key for a stream record closed without one ("" where the API takes none: Firehose)."""
        return self.keys.fresh() if self.keys is not None else ""

    def _alone(self, block: StoredBlock, index: int, line: bytes, key: str, units: _Units) -> None:
        """One log record as one stream record, or in pieces when it is longer than a record."""
        end = index + 1
        key = key or self._fresh_key()
        budget = self._budget(key)
        if len(line) + 1 <= budget:
            units.add(self._data(line + b"\n"), key, 1, end)
            return
        pieces = self._pieces(block, index, budget - 1)
        units.split += 1
        for number, piece in enumerate(pieces):
            last = number == len(pieces) - 1
            units.add(self._data(piece + b"\n"), key, int(last), end if last else index)

    def _pieces(self, block: StoredBlock, index: int, budget: int) -> list[bytes]:
        """The lines of a log record too long for one stream record, each within `budget` bytes: pieces
        of its message, each alone (text) or in a whole JSON object with the record's fields (json)."""
        timestamp, message, fields = block.record(index)
        if self.encoding == "json":
            empty = json_object(block.common, (timestamp, "", fields))
            if empty is not None and len(empty) + 64 <= budget:
                return [piece for text in split_utf8(message, budget - len(empty))
                        for piece in self._json_pieces(block.common, timestamp, text, fields, budget)]
        # text, or fields that alone fill a record: the message's text in pieces
        return [piece.encode("utf-8", "replace") for piece in split_utf8(message, budget)]

    @classmethod
    def _json_pieces(cls, common: Mapping[str, Any], timestamp: int, text: str, fields: Any,
                     budget: int) -> list[bytes]:
        """`text` in JSON objects of at most `budget` bytes (escaping may grow it: halved until it fits)."""
        piece = json_object(common, (timestamp, text, fields))
        if piece is None:
            return []
        if len(piece) <= budget or len(text) <= 1:
            return [piece]
        return [p for half in split_utf8(text, max(4, utf8_size(text) // 2))
                for p in cls._json_pieces(common, timestamp, half, fields, budget)]

    def _all_fit(self, lines: list[bytes | None], keys: list[str] | str) -> bool:
        longest_key = keys if isinstance(keys, str) else max(keys, key=len, default="")
        return max(map(len, lines), default=0) + 1 <= self._budget(longest_key) - 3 * len(longest_key)  # type: ignore[arg-type]

    def _budget(self, key: str) -> int:
        """Bytes of data a stream record with this key may hold before compression."""
        if key:
            key_size = len(key) if key.isascii() else utf8_size(key)
        else:  # Firehose takes none; a random key is given when the stream record is closed
            key_size = RANDOM_KEY_CHARS if self.keys is not None else 0
        slack = GZIP_SLACK + self.limits.record_bytes // 1000 if self.gzip else 0
        return self.limits.record_bytes - key_size - slack

    def _data(self, data: bytes) -> bytes:
        return gzip.compress(data, GZIP_LEVEL, mtime=0) if self.gzip else data

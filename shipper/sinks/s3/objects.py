"""An object being gathered, and its row in the sink's ledger.

An object holds records of one partition in spool order, as lines (sinks/encoding.py), compressed
as they come when `compression: gzip` (one gzip stream: what is held is what will be stored). It
remembers the spool positions of its first and last record and how many of its records each read
segment gave it (what its upload acknowledges).

The ledger row (in the spool's sink state) names an object before its upload starts: its partition,
key, first and last spool position, and whether it landed. It is deleted in the transaction that
acknowledges its last record. After a crash, the rows left say how the unacknowledged records were
cut into objects: those records are cut the same way again, a landed object is skipped, the others
are sent again under their key (replacing what may have landed), the multipart uploads left on that
key found by the key alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from shipper.buffer.spool import Position
from shipper.sinks.s3.key import Partition

ROW_PREFIX = "object:"


@dataclass(slots=True)
class ObjectRow:
    partition: Partition
    key: str
    first: Position
    last: Position
    landed: bool = False

    @property
    def state_key(self) -> str:
        return f"{ROW_PREFIX}{self.first.block}:{self.first.index}"

    def encode(self) -> bytes:
        return orjson.dumps({"partition": self.partition, "key": self.key, "first": tuple(self.first),
                             "last": tuple(self.last), "landed": self.landed})

    @classmethod
    def decode(cls, value: bytes) -> ObjectRow:
        data = orjson.loads(value)
        return cls(tuple(data["partition"]), data["key"], Position(*data["first"]), Position(*data["last"]),
                   data["landed"])


class S3Object:
    """Records of one partition gathered for one object."""

    def __init__(self, partition: Partition, gzip: int | None, opened_at: float, row: ObjectRow | None = None):
        """`gzip`: the compression level (1-9), None for none."""
        self.partition = partition
        self.opened_at = opened_at  # on the engine's clock: for max_object_age
        self.row = row  # its ledger row when it was recorded before a restart: cut as it says
        self._compressor = zlib.compressobj(gzip, zlib.DEFLATED, 31) if gzip is not None else None
        self._chunks: list[bytes] = []
        self.raw = 0  # bytes of its lines, before compression
        self.held = 0  # bytes held for it in memory
        self.records = 0  # spool records it stands for (acknowledged with it)
        self.lines = 0  # of those, the ones it holds (the others could not be encoded: discarded, counted)
        self.first: Position | None = None
        self.last = Position(0, 0)
        self.first_time = 0  # of its first record, ns: the time in its key
        self.last_time = 0
        self.acks: dict[int, int] = {}  # its records by read segment

    def add(self, lines: list[bytes], first: Position, last: Position, times: tuple[int, int], segment: int,
            records: int) -> None:
        """`records` records (those of `lines`, and records that could not be encoded) from `first` to `last`."""
        if self.first is None:
            self.first, self.first_time = first, times[0]
        self.last, self.last_time = last, times[1]
        self.records += records
        self.lines += len(lines)
        self.acks[segment] = self.acks.get(segment, 0) + records
        if not lines:
            return
        data = b"\n".join(lines) + b"\n"
        self.raw += len(data)
        if self._compressor is not None:
            data = self._compressor.compress(data)
        if data:
            self._chunks.append(data)
            self.held += len(data)

    def close(self) -> None:
        """No more records: what it holds is what will be stored."""
        if self._compressor is not None:
            self._chunks.append(self._compressor.flush())
            self._compressor = None
            self.held += len(self._chunks[-1])

    @property
    def size(self) -> int:
        """Bytes to store, once closed."""
        return self.held

    def pieces(self, size: int) -> Iterator[bytes]:
        """What it holds, in pieces of `size` bytes (the last may be shorter), each made only when it is
        asked for: a multipart upload of a large object never holds a second copy of all of it."""
        piece: list[bytes] = []
        filled = 0
        for chunk in self._chunks:
            while chunk:
                taken = chunk[:size - filled]
                piece.append(taken)
                filled += len(taken)
                chunk = chunk[len(taken):]
                if filled == size:
                    yield b"".join(piece)
                    piece, filled = [], 0
        if piece or not self._chunks:
            yield b"".join(piece)

    def release(self) -> None:
        self._chunks = []

    def row_for(self, key: str) -> ObjectRow:
        assert self.first is not None
        return ObjectRow(self.partition, key, self.first, self.last)

"""A file's checkpoint as stored in the spool: where to resume, and how to recognise the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from shipper.sources.files.identity import Fingerprint


@dataclass(frozen=True, slots=True)
class FileCheckpoint:
    path: str
    offset: int
    fingerprint: Fingerprint
    carry: Any = None  # a decoder's partial record (CRI `P` fragments) that the offset has moved past

    def encode(self) -> bytes:
        return orjson.dumps(
            {"path": self.path, "offset": self.offset,
             "fingerprint": [self.fingerprint.length, self.fingerprint.crc], "carry": self.carry}
        )

    @classmethod
    def decode(cls, value: bytes) -> FileCheckpoint:
        data = orjson.loads(value)
        length, crc = data["fingerprint"]
        return cls(data["path"], data["offset"], Fingerprint(length, crc), data.get("carry"))

"""A file's checkpoint as stored in the spool: where to resume, and how to recognise the file."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from shipper.sources.files.identity import Fingerprint


@dataclass(frozen=True, slots=True)
class FileCheckpoint:
    path: str
    offset: int
    fingerprint: Fingerprint

    def encode(self) -> bytes:
        return orjson.dumps(
            {"path": self.path, "offset": self.offset,
             "fingerprint": [self.fingerprint.length, self.fingerprint.crc]}
        )

    @classmethod
    def decode(cls, value: bytes) -> FileCheckpoint:
        data = orjson.loads(value)
        length, crc = data["fingerprint"]
        return cls(data["path"], data["offset"], Fingerprint(length, crc))

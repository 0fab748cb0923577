"""Which file is which: device + inode, plus a fingerprint of the first bytes to detect inode reuse."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

FINGERPRINT_BYTES = 256


@dataclass(frozen=True, slots=True)
class FileIdentity:
    device: int
    inode: int

    @classmethod
    def of(cls, status: os.stat_result) -> FileIdentity:
        return cls(status.st_dev, status.st_ino)

    @property
    def key(self) -> str:
        return f"{self.device}:{self.inode}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """CRC32 of the first `length` bytes (fewer than FINGERPRINT_BYTES while the file is short)."""

    length: int
    crc: int

    @classmethod
    def read(cls, fd: int, length: int = FINGERPRINT_BYTES) -> Fingerprint:
        head = os.pread(fd, length, 0)
        return cls(len(head), zlib.crc32(head))

    def matches(self, fd: int) -> bool:
        """Whether the file on `fd` still starts with the bytes this fingerprint was taken of."""
        return Fingerprint.read(fd, self.length) == self

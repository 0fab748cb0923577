"""Turning lines into records. One decoder per open file; container formats carry partial lines.

A decoder's `carry()` is what it holds of an incomplete record (CRI `P` fragments, docker 16 KiB
pieces). It is stored in the file's checkpoint, so the offset can move past those fragments and a
restart neither loses them nor reads them twice.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from shipper.record import Record, dig, set_aside_reserved
from shipper.times import TimeParser

MALFORMED_JSON = {"parse_error": "not a JSON object"}


class Decoder(Protocol):
    @property
    def malformed(self) -> int:
        """Lines of the last `decode` call that were shipped raw and flagged."""
        ...

    @property
    def split(self) -> int:
        """Pieces cut off over-long joined records so far."""
        ...

    @property
    def untimed(self) -> int:
        """Lines of the last `decode` call whose own time was missing or not a time (read time kept)."""
        ...

    @property
    def pending_bytes(self) -> int:
        """Bytes of incomplete records held in memory (the source's budget counts them)."""
        ...

    @property
    def pending_since(self) -> float | None:
        """Monotonic time the oldest of them came, None when nothing is held."""
        ...

    def decode(self, texts: list[str], now_ns: int) -> list[Record]: ...

    def carry(self) -> Any: ...

    def restore(self, carry: Any) -> None: ...

    def flush(self) -> list[Record]:
        """Whatever is held as a record of its own: the file will not grow any more."""
        ...


class PlainDecoder:
    """One record per line, stamped with the read time."""

    malformed = 0
    split = 0
    untimed = 0
    pending_bytes = 0
    pending_since: float | None = None

    def __init__(self, max_line: int = 0):
        del max_line

    def decode(self, texts: list[str], now_ns: int) -> list[Record]:
        return [(now_ns, text, None) for text in texts]

    def carry(self) -> Any:
        return None

    def restore(self, carry: Any) -> None:
        pass

    def flush(self) -> list[Record]:
        return []


class JsonDecoder(PlainDecoder):
    """One JSON object per line, its keys as the record's fields; anything else shipped raw and flagged.

    Keys the agent reserves (record.RESERVED: `host`, `file`, `kubernetes`, ...) are kept under
    `reserved_key` (default `log`), with the line's own `reserved_key` field if it had one: a line
    cannot claim another host or pod, and routing by those names reads the agent's own values.

    With `time_path`, the record's time is the line's own value there, read by `parse_time`; a line
    without one keeps the read time and is counted in `untimed`."""

    def __init__(self, max_line: int = 0, reserved_key: str = "log", time_path: tuple[str, ...] | None = None,
                 parse_time: TimeParser | None = None):
        super().__init__(max_line)
        self.reserved_key = reserved_key
        self.time_path = time_path
        self.parse_time = parse_time

    def decode(self, texts: list[str], now_ns: int) -> list[Record]:
        records: list[Record] = []
        self.malformed = self.untimed = 0
        time_path, parse_time = self.time_path, self.parse_time
        for text in texts:
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                stamp = now_ns
                if time_path is not None and parse_time is not None:
                    own = parse_time(dig(parsed, time_path))
                    if own is None:
                        self.untimed += 1
                    else:
                        stamp = own
                records.append((stamp, text, set_aside_reserved(parsed, self.reserved_key)))
            else:
                records.append((now_ns, text, MALFORMED_JSON))
                self.malformed += 1
        return records


DECODERS: dict[str, type[PlainDecoder]] = {"plain": PlainDecoder, "json": JsonDecoder}

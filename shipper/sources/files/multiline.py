"""Grouping consecutive lines into one record: Java stack traces, Python tracebacks, Go panics.

Two ways to tell where a group starts (`multiline.mode`):
- `pattern` (PatternDecoder): a line that matches `start_pattern` opens a new group; any other line
  joins the open group of its stream;
- `exceptions` (exceptions.py: ExceptionsDecoder): a state machine per stream recognises the stack
  traces of known languages; lines that are not part of one pass through at once.

Either way, stdout and stderr are grouped apart; a group is closed when it reaches `max_lines`
lines or `max_bytes` bytes, or when its stream has been quiet for `timeout`: so only the last open
group of a stream ever waits for the timer. Open groups are part of the decoder's carry, stored with
the checkpoint, so a crash neither loses nor repeats the lines they hold.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any

from shipper.record import FIELDS, MESSAGE, TIMESTAMP, Record
from shipper.regex import compile_regex
from shipper.sources.files.config import MAX_LINES
from shipper.sources.files.formats import Decoder
from shipper.text import utf8_size


class Group:
    """The lines of one open group; `state` is where the exceptions state machine stands in it."""

    __slots__ = ("fields", "opened", "parts", "size", "state", "timestamp", "touched")

    def __init__(self, record: Record, touched: float, state: str = ""):
        self.timestamp = record[TIMESTAMP]
        self.parts = [record[MESSAGE]]
        self.size = utf8_size(record[MESSAGE])
        self.fields = record[FIELDS]
        self.touched = self.opened = touched
        self.state = state

    def add(self, message: str, size: int, now: float) -> None:
        self.parts.append(message)
        self.size += 1 + size
        self.touched = now

    def record(self) -> Record:
        return (self.timestamp, "\n".join(self.parts), self.fields)


class GroupingDecoder(ABC):
    """Wraps a line decoder; the records it yields are groups of the inner decoder's records."""

    def __init__(self, inner: Decoder, timeout: float, max_bytes: int, max_lines: int):
        self.inner = inner
        self.timeout = timeout
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.groups: dict[Any, Group] = {}
        self.joined_split = 0

    @property
    def malformed(self) -> int:
        return self.inner.malformed

    @property
    def untimed(self) -> int:
        return self.inner.untimed

    @property
    def split(self) -> int:
        return self.inner.split + self.joined_split

    def decode(self, texts: list[str], now_ns: int) -> list[Record]:
        return self._group(self.inner.decode(texts, now_ns), time.monotonic())

    @abstractmethod
    def _group(self, records: list[Record], now: float) -> list[Record]:
        """The records that leave, grouped; the others stay in `groups`."""

    def _fits(self, group: Group, size: int) -> bool:
        """Whether a line of `size` bytes may join `group` (else the group leaves first, counted)."""
        if len(group.parts) < self.max_lines and group.size + 1 + size <= self.max_bytes:
            return True
        self.joined_split += 1
        return False

    @property
    def pending_bytes(self) -> int:
        return self.inner.pending_bytes + sum(group.size for group in self.groups.values())

    @property
    def pending_since(self) -> float | None:
        times = [group.opened for group in self.groups.values()]
        if self.inner.pending_since is not None:
            times.append(self.inner.pending_since)
        return min(times, default=None)

    def expired(self, now: float) -> list[Record]:
        """Close the groups whose stream has been quiet for `timeout` seconds."""
        quiet = [key for key, group in self.groups.items() if now - group.touched >= self.timeout]
        return [self.groups.pop(key).record() for key in quiet]

    def carry(self) -> Any:
        groups = [[g.timestamp, "\n".join(g.parts), g.fields, g.state] for g in self.groups.values()]
        inner = self.inner.carry()
        return {"multiline": groups, "inner": inner} if groups else inner

    def restore(self, carry: Any) -> None:
        if isinstance(carry, dict) and "multiline" in carry:
            self.inner.restore(carry["inner"])
            now = time.monotonic()
            self.groups = {}
            for stored in carry["multiline"]:  # [time, text, fields] before `state` was stored
                group = Group(stored[:3], now, stored[3] if len(stored) > 3 else "")
                group.parts = group.parts[0].split("\n")
                self.groups[stream_of(group.record())] = group
        else:  # the checkpoint was written without multiline, or with no group open
            self.inner.restore(carry)

    def flush(self) -> list[Record]:
        out = self._group(self.inner.flush(), time.monotonic())
        return out + self.release()

    def release(self) -> list[Record]:
        """The open groups as they stand (the line decoder inside keeps what it holds)."""
        out = [group.record() for group in self.groups.values()]
        self.groups = {}
        return out


class PatternDecoder(GroupingDecoder):
    """`mode: pattern`: a line `start_pattern` finds opens a group; any other line joins the open one."""

    def __init__(self, inner: Decoder, start_pattern: str, timeout: float, max_bytes: int,
                 max_lines: int = MAX_LINES):
        super().__init__(inner, timeout, max_bytes, max_lines)
        self.start = compile_regex(start_pattern)

    def _group(self, records: list[Record], now: float) -> list[Record]:
        out: list[Record] = []
        groups, start = self.groups, self.start.found_in
        for record in records:
            key = stream_of(record)
            group = groups.get(key)
            message = record[MESSAGE]
            if group is not None and not start(message):
                size = utf8_size(message)
                if self._fits(group, size):
                    group.add(message, size, now)
                    continue
            if group is not None:
                out.append(group.record())
            groups[key] = Group(record, now)
        return out


class Releasing(GroupingDecoder):
    """A decoder that groups no longer, holding the groups a checkpoint brought (multiline taken out
    of the configuration, or off for the pod, while they were open): they leave with the next records
    read, or at the next look for quiet groups; until then they are in its carry."""

    def __init__(self, inner: Decoder):
        super().__init__(inner, timeout=0.0, max_bytes=0, max_lines=0)

    def _group(self, records: list[Record], now: float) -> list[Record]:
        return self.release() + records if self.groups else records


def restored(decoder: Decoder, carry: Any) -> Decoder:
    """`decoder` given `carry` (a checkpoint's): a carry with open groups into a decoder that does not
    group comes back in a Releasing decoder, so that those lines are neither lost nor kept forever."""
    if isinstance(carry, dict) and "multiline" in carry and not isinstance(decoder, GroupingDecoder):
        decoder = Releasing(decoder)
    decoder.restore(carry)
    return decoder


def stream_of(record: Record) -> str | None:
    fields = record[FIELDS]
    stream = fields.get("stream") if fields else None
    return stream if isinstance(stream, str) else None  # a JSON line's own "stream" may be anything

"""Grouping consecutive lines into one record: Java stack traces, Python tracebacks, Go panics.

A line that matches `start_pattern` opens a new group; any other line joins the open group of its
stream (stdout and stderr are grouped apart). A group is closed by the next start line, by growing
past `max_line_size`, or when its stream has been quiet for `timeout`: so only the last open group
ever waits for the timer. Open groups are part of the decoder's carry, stored with the checkpoint,
so a crash neither loses nor repeats the lines they hold.
"""

from __future__ import annotations

import time
from typing import Any

from shipper.record import FIELDS, MESSAGE, TIMESTAMP, Record
from shipper.regex import compile_regex
from shipper.sources.files.formats import Decoder
from shipper.text import utf8_size


class _Group:
    __slots__ = ("fields", "opened", "parts", "size", "timestamp", "touched")

    def __init__(self, record: Record, touched: float):
        self.timestamp = record[TIMESTAMP]
        self.parts = [record[MESSAGE]]
        self.size = utf8_size(record[MESSAGE])
        self.fields = record[FIELDS]
        self.touched = self.opened = touched

    def record(self) -> Record:
        return (self.timestamp, "\n".join(self.parts), self.fields)


class MultilineDecoder:
    """Wraps a line decoder; the records it yields are groups of the inner decoder's records."""

    def __init__(self, inner: Decoder, start_pattern: str, timeout: float, max_size: int):
        self.inner = inner
        self.start = compile_regex(start_pattern)
        self.timeout = timeout
        self.max_size = max_size
        self.groups: dict[Any, _Group] = {}
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

    def _group(self, records: list[Record], now: float) -> list[Record]:
        out: list[Record] = []
        groups, start = self.groups, self.start.found_in
        for record in records:
            key = _stream(record)
            group = groups.get(key)
            message = record[MESSAGE]
            size = utf8_size(message)
            if group is not None and not start(message) and group.size + 1 + size <= self.max_size:
                group.parts.append(message)
                group.size += 1 + size
                group.touched = now
                continue
            if group is not None:
                out.append(group.record())
                if not start(message):
                    self.joined_split += 1  # a continuation that no longer fits starts a group of its own
            groups[key] = _Group(record, now)
        return out

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
        groups = [[g.timestamp, "\n".join(g.parts), g.fields] for g in self.groups.values()]
        inner = self.inner.carry()
        return {"multiline": groups, "inner": inner} if groups else inner

    def restore(self, carry: Any) -> None:
        if isinstance(carry, dict) and "multiline" in carry:
            self.inner.restore(carry["inner"])
            now = time.monotonic()
            self.groups = {_stream(record): _Group(record, now) for record in carry["multiline"]}
        else:  # the checkpoint was written without multiline, or with no group open
            self.inner.restore(carry)

    def flush(self) -> list[Record]:
        out = self._group(self.inner.flush(), time.monotonic())
        out.extend(group.record() for group in self.groups.values())
        self.groups = {}
        return out


def _stream(record: Record) -> str | None:
    fields = record[FIELDS]
    stream = fields.get("stream") if fields else None
    return stream if isinstance(stream, str) else None  # a JSON line's own "stream" may be anything

"""Journal entries as records: MESSAGE -> message, __REALTIME_TIMESTAMP -> timestamp, PRIORITY ->
severity, and the fields operators filter on; with `keep_all_fields`, every field."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipper.record import Record

Convert = Callable[[str, Any], Any]  # (field name, raw value) -> the value journal.Reader would give

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)
KEPT = ("_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_PID", "_HOSTNAME", "_BOOT_ID")
KEPT_WITH_PRIORITY = (*KEPT, "PRIORITY")


@dataclass(slots=True)
class RawEntry:
    """An entry as the journal holds it: its time, and its fields as bytes (a list of bytes for a
    field the entry carries more than once)."""

    realtime_us: int
    fields: dict[str, Any]


def text(value: Any) -> tuple[str, bool]:
    """A field value as text, and whether bytes that are not UTF-8 were replaced."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace"), True
    if isinstance(value, list):  # a field the entry carries more than once
        parts = [text(v) for v in value]
        return "\n".join(p for p, _ in parts), any(bad for _, bad in parts)
    return str(value), False


def plain(value: Any) -> Any:
    """A field value that JSON can carry."""
    if isinstance(value, int | str):
        return value
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // MICROSECOND
    return text(value)[0]


class RecordMaker:
    """Journal entries as records, their fields converted as journal.Reader converts them. Values
    repeat from entry to entry (a unit, a host, a boot id, a PID): each distinct (name, raw value) is
    converted once and remembered, up to CACHE_SIZE of them."""

    CACHE_SIZE = 4096

    def __init__(self, convert: Convert, keep_all: bool):
        self.convert = convert
        self.keep_all = keep_all
        self._known: dict[tuple[str, bytes], Any] = {}
        self._shared: dict[tuple[Any, ...], dict[str, Any]] = {}

    @property
    def shared(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The fields mapping of each tuple of kept raw values (KEPT_WITH_PRIORITY) seen lately."""
        return self._shared

    def raw_record(self, realtime_us: int, raw: dict[str, Any]) -> tuple[Record, bool]:
        """`record` of an entry given as its time and raw fields (the `_journal` kernel's hand-back)."""
        return self.record(RawEntry(realtime_us, raw))

    def record(self, entry: RawEntry) -> tuple[Record, bool]:
        """The record for one entry, and whether its message had bytes that are not UTF-8. Entries
        whose kept fields are the same share one fields mapping (the spool then stores it once)."""
        raw = entry.fields
        message, invalid = self._message(raw["MESSAGE"]) if "MESSAGE" in raw else ("", False)
        if self.keep_all:
            return (entry.realtime_us * 1000, message, self._fields(raw)), invalid
        key = tuple(map(raw.get, KEPT_WITH_PRIORITY))
        try:
            fields = self._shared.get(key)
        except TypeError:  # a field carried more than once (a list): not shared
            return (entry.realtime_us * 1000, message, self._fields(raw)), invalid
        if fields is None:
            if len(self._shared) >= self.CACHE_SIZE:
                self._shared.clear()
            fields = self._shared[key] = self._fields(raw)
        return (entry.realtime_us * 1000, message, fields), invalid

    def _fields(self, raw: dict[str, Any]) -> dict[str, Any]:
        if self.keep_all:
            names = [name for name in raw if name != "MESSAGE" and not name.startswith("__")]
        else:
            names = [name for name in KEPT if name in raw]
        fields = {name: self.field(name, raw[name]) for name in names}
        priority = self.field("PRIORITY", raw["PRIORITY"]) if "PRIORITY" in raw else None
        if isinstance(priority, int) and 0 <= priority <= 7:
            fields["severity"] = priority
        return fields

    def _message(self, raw: Any) -> tuple[str, bool]:
        if isinstance(raw, bytes):  # MESSAGE has no converter: UTF-8, or else the bytes (replaced here)
            try:
                return raw.decode(), False
            except UnicodeDecodeError:
                return raw.decode("utf-8", "replace"), True
        return text(self.convert("MESSAGE", raw))

    def field(self, name: str, raw: Any) -> Any:
        """A field's value as a record holds it (JSON-ready)."""
        if not isinstance(raw, bytes):  # a field the entry carries more than once
            return plain(self.convert(name, raw))
        key = (name, raw)
        value = self._known.get(key, _UNKNOWN)
        if value is _UNKNOWN:
            if len(self._known) >= self.CACHE_SIZE:
                self._known.clear()
            value = self._known[key] = plain(self.convert(name, raw))
        return value


_UNKNOWN = object()

"""Journal entries as records: MESSAGE -> message, __REALTIME_TIMESTAMP -> timestamp, PRIORITY ->
severity, and the fields operators filter on; with `keep_all_fields`, every field."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from shipper.record import Record

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)
KEPT = ("_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_PID", "_HOSTNAME", "_BOOT_ID")


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


def to_record(entry: dict[str, Any], keep_all: bool) -> tuple[Record, bool]:
    """The record for one entry, and whether its message had bytes that are not UTF-8."""
    message, invalid = text(entry.get("MESSAGE", ""))
    realtime = entry.get("__REALTIME_TIMESTAMP")
    timestamp = (realtime - EPOCH) // MICROSECOND * 1000 if realtime is not None else 0
    if keep_all:
        names = [name for name in entry if name != "MESSAGE" and not name.startswith("__")]
    else:
        names = [name for name in KEPT if name in entry]
    fields = {name: plain(entry[name]) for name in names}
    priority = entry.get("PRIORITY")
    if isinstance(priority, int) and 0 <= priority <= 7:
        fields["severity"] = priority
    return (timestamp, message, fields), invalid

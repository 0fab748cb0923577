"""What flows through the pipeline.

A *record* is a plain 3-sequence `(timestamp_ns, message, fields)`: a tuple where sources build it,
a list once decoded from the spool. `fields` holds what differs per record (`stream`, parsed JSON,
journald fields) or is None; or, from a compiled transform whose output only the spool reads, the
JSON text of that mapping (bytes), which the spool stores as it is (`fields_of` reads it). What
every record of a block shares (file path, host, Kubernetes metadata) lives once in the block's
`common` mapping instead of in each record.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

Record = Sequence[Any]  # (timestamp_ns: int, message: str, fields: dict | bytes | None)
TIMESTAMP, MESSAGE, FIELDS = 0, 1, 2
NS = 1_000_000_000  # nanoseconds a second: record times are in nanoseconds
# Names the agent sets itself (in a block's common fields, or the record's time and text): a field
# parsed from a line never takes one of them, so no line can claim another host, file or pod.
RESERVED = frozenset({"host", "file", "source_type", "kubernetes", "journald", "timestamp", "message"})


@dataclass(slots=True)
class Block:
    """Records read together from one source, appended to the spool in one transaction under `stream`:
    the source's id, or the id of the transform output they come out of (see transforms/)."""

    stream: str
    common: Mapping[str, Any]
    records: list[Record]


# What a source stores for a block it read: the block itself, or what transforms make of it (one block
# per stream a sink takes); see config/topology.py.
Fanout = Callable[[Block], list[Block]]


def unchanged(block: Block) -> list[Block]:
    return [block]


def set_aside_reserved(parsed: dict[str, Any], key: str = "log") -> dict[str, Any]:
    """Fields parsed from a line, with the names the agent reserves (and `key` itself, if the line had
    it) moved under `key`: a line cannot claim another host or pod, and routing by those names reads
    the agent's own values."""
    if RESERVED.isdisjoint(parsed):
        return parsed
    aside = {name: value for name, value in parsed.items() if name in RESERVED or name == key}
    kept = {name: value for name, value in parsed.items() if name not in aside}
    kept[key] = aside
    return kept


def dig(mapping: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in nested mappings; None when a step is missing or not a mapping."""
    value = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def lookup(common: Mapping[str, Any], record: Record, path: tuple[str, ...]) -> Any:
    """A field by dotted path: the record's own fields first, then the block's common ones; a
    reserved name only from the agent's own (common) fields."""
    if path == ("message",):
        return record[MESSAGE]
    for scope in (record[FIELDS], common) if path[0] not in RESERVED else (common,):
        value = dig(scope, path)
        if value is not None:
            return value
    return None


def as_event(common: Mapping[str, Any], record: Record) -> dict[str, Any]:
    """One flat mapping with every field of the record, for JSON encodings: the agent's own fields
    (time, text, common metadata) win over a record's fields of the same name."""
    event: dict[str, Any] = {"timestamp": rfc3339(record[TIMESTAMP]), "message": record[MESSAGE]}
    event.update(common)
    fields = fields_of(record)
    if fields:
        event.update((key, value) for key, value in fields.items() if key not in event)
    return event


def fields_of(record: Record) -> Any:
    """The record's fields as a mapping (or None), whether held as one or as their JSON text."""
    fields = record[FIELDS]
    return orjson.loads(fields) if type(fields) is bytes else fields


def rfc3339(timestamp_ns: int) -> str:
    """UTC time with nanoseconds, e.g. `2026-11-22T10:15:00.123456789Z`."""
    seconds, nanos = divmod(timestamp_ns, NS)
    return f"{_utc_second(seconds)}.{nanos:09d}Z"


def rfc3339_texts(values: list[int]) -> list[str]:
    """`rfc3339` of each value, a block's times at once: each second's text is made once, and a
    time's nanoseconds are the last nine of its digits (taken by C-level maps, no call per time)."""
    seconds = list(map(operator.floordiv, values, itertools.repeat(NS)))
    distinct = set(seconds)
    if not distinct or min(distinct) < 10**9 or max(distinct) >= 10**10:  # times of other than 19 digits
        return list(map(rfc3339, values))
    texts = {second: f"{_utc_second(second)}." for second in distinct}
    nanos: Iterator[str] = map(operator.getitem, map(str, values), itertools.repeat(slice(10, None)))
    return list(map("".join, zip(map(texts.__getitem__, seconds), nanos, itertools.repeat("Z"))))


@lru_cache(maxsize=4096)
def _utc_second(seconds: int) -> str:
    """The date and time of a second (records come in runs of the same second: formatted once)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))

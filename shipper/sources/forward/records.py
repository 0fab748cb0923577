"""A forward message's entries as records: the message from the first of `message_keys` the record
has, every other key a field, and the message's tag as the field `tag`.

A record that is not a map becomes a record whose message is its JSON text (counted as malformed);
keys that are not strings become their text; values sent as raw bytes become text (UTF-8, invalid
bytes replaced). Names the agent reserves (host, file, kubernetes, ...) are set aside under `log`:
a client cannot claim another pod or host.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from shipper import kernels
from shipper.record import Record, set_aside_reserved
from shipper.sources.forward.protocol import Message

NUMBERS = frozenset({int, float, bool})
# In `shared`, under a signature without types: records with these keys and values hold numbers or
# keys that are not text, so they share mappings by a signature with the types (see `_typed`).
TYPED: dict[str, Any] = {}


def records_of(message: Message, message_keys: list[str], anomalies: Counter[str],
               shared: dict[tuple[Any, ...], dict[str, Any]], max_depth: int = 64) -> list[Record]:
    """The entries' records. Records whose other keys are the same (a container's records mostly differ
    only in their text) share one fields mapping from `shared`, made once: the spool stores it once
    per block, and the per-record work is taking the message and one lookup. Records are the same
    when their keys and values are equal and, where equal values can be of different types (numbers,
    keys that are not text), of the same types too.

    Total per entry: a record nested deeper than `max_depth` is discarded (`too_deep`), and one this
    function fails on for any other reason is discarded (`malformed_entry`), both counted; the others
    of the message go on. A message the forward kernel decoded holds its records already."""
    if message.records is not None:
        return message.records
    tag = message.tag
    out: list[Record] = []
    for time_ns, record in message.entries:
        try:
            if type(record) is not dict:
                if too_deep(record, max_depth):
                    anomalies["too_deep"] += 1
                    continue
                anomalies["malformed"] += 1
                out.append((time_ns, _json_text(record), {"tag": tag}))
                continue
            text = None
            for key in message_keys:
                value = record.get(key)
                if type(value) is str:
                    text = record.pop(key)
                    break
                if type(value) is bytes:
                    text = record.pop(key).decode("utf-8", "replace")
                    break
            try:
                signature: tuple[Any, ...] | None = (tag, *record.items())
                fields = shared.get(signature)  # type: ignore[arg-type]
                if fields is TYPED:
                    signature = _typed(signature, record)  # type: ignore[arg-type]
                    fields = shared.get(signature)
                elif fields is None and not _exact(record):  # the first of its kind: its kind needs types
                    shared[signature] = TYPED  # type: ignore[index]
                    signature = _typed(signature, record)  # type: ignore[arg-type]
            except TypeError:  # a nested map or list among the values: this record's own mapping
                if too_deep(record, max_depth):
                    anomalies["too_deep"] += 1
                    continue
                signature, fields = None, None
            if fields is None:
                fields = make_fields(record, tag)
                if signature is not None:
                    shared[signature] = fields
            out.append((time_ns, _json_text(record) if text is None else text, fields))
        except Exception:  # a bug of ours must not cost the connection nor the other records
            anomalies["malformed_entry"] += 1
    return out


def packed_records(tag: str, packed: bytes, max_entries: int, message_keys: tuple[str, ...]) -> list[Record] | None:
    """A packed stream's records by the forward kernel (shipper/kernels/_forward.c): exactly those
    `records_of` makes of the entries `protocol.add_packed_entries` decodes, each distinct fields
    mapping made by `make_fields`; None when the kernel is not compiled or leaves the stream to them."""
    if kernels.forward is None:
        return None
    made: list[Record] | None = kernels.forward.records(packed, tag, message_keys, max_entries, make_fields)
    return made


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether maps and lists nest deeper than `max_depth` in `value` (walked without recursion)."""
    level = [value]
    for _ in range(max_depth):
        inner = [item for node in level if type(node) in (dict, list)
                 for item in (node.values() if type(node) is dict else node)]
        if not inner:
            return False
        level = inner
    return any(type(node) in (dict, list) for node in level)


def _exact(record: dict[Any, Any]) -> bool:
    """Whether a record's keys and values equal only values of their own types: text keys, and no
    numbers among the values (1, 1.0 and True are equal and hash alike, but are not the same field)."""
    try:
        "".join(record)
    except TypeError:
        return False
    return NUMBERS.isdisjoint(map(type, record.values()))


def _typed(signature: tuple[Any, ...], record: dict[Any, Any]) -> tuple[Any, ...]:
    """A signature that tells equal keys and values of different types apart."""
    return (*signature, *map(type, record), *map(type, record.values()))


def make_fields(record: dict[Any, Any], tag: str) -> dict[str, Any]:
    """A record's keys but the message as fields: keys as text, raw bytes as text, the tag in `tag`,
    the agent's reserved names set aside under `log`."""
    if not _plain(record):
        record = {key if isinstance(key, str) else _text(key): value.decode("utf-8", "replace")
                  if isinstance(value, bytes) else value for key, value in record.items()}
    else:
        record = dict(record)
    record["tag"] = tag
    return set_aside_reserved(record)


def _plain(record: dict[Any, Any]) -> bool:
    """Whether every key is a string and no value raw bytes (checked at C speed: a join, a set of types)."""
    try:
        "".join(record)
    except TypeError:
        return False
    return bytes not in set(map(type, record.values()))


def _text(key: Any) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)

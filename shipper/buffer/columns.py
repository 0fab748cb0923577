"""How a block's records are laid out in the spool: one column per part of a record.

A block of N records is stored as
- `timestamps`: N signed 64-bit little-endian integers (nanoseconds);
- `messages`: a JSON array of N strings;
- `field_values` and `field_refs`: the distinct `fields` mappings of the block as a JSON array (those
  held as JSON text, bytes, copied into it as they are), and
  for each record the index of its own in that array (N unsigned 32-bit little-endian integers).
  Both are NULL when no record has fields; `field_refs` alone is NULL when every record has the
  same one (a container that writes to stdout only).

Why columns and not one JSON array of records: a sink decodes a block of 10,000 records into two
flat lists (integers and strings) instead of 10,000 lists and 10,000 dicts, and the few mappings
every record of a container log shares (`{"stream": "stdout"}`) are stored and decoded once. It
halves what reading the spool costs the CloudWatch sink.

Storing is total (`encode_total`): a record that cannot be stored as it is (a time outside 64-bit
nanoseconds, a JSON value nested deeper than the encoder goes, an integer beyond 64 bits, text that
is not valid Unicode) is repaired and counted, never refused: its time becomes the read time, an
unstorable field value its JSON text, bad text its U+FFFD-replaced form. One bad line must never stop
the file, or the source, it came from.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from shipper.record import FIELDS, MESSAGE, TIMESTAMP, Record
from shipper.text import is_valid_text, valid_text

_TIMESTAMP, _MESSAGE, _FIELDS = itemgetter(TIMESTAMP), itemgetter(MESSAGE), itemgetter(FIELDS)
_SWAP = sys.byteorder == "big"  # the file is the same on every machine: little-endian on disk
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Repairs = Counter[str]  # kind of repair -> records repaired


@dataclass(slots=True)
class Columns:
    timestamps: bytes
    messages: bytes
    field_values: bytes | None
    field_refs: bytes | None

    @property
    def size(self) -> int:
        return len(self.timestamps) + len(self.messages) + len(self.field_values or b"") + len(self.field_refs or b"")


def encode(records: Sequence[Record]) -> Columns:
    timestamps = _to_bytes(array("q", list(map(_TIMESTAMP, records))))  # from a list: 4x faster than a map
    messages = orjson.dumps(list(map(_MESSAGE, records)))
    fields = list(map(_FIELDS, records))
    if not fields or fields.count(fields[0]) == len(fields):  # by identity first: records share mappings
        shared = None if not fields or fields[0] is None else json_array(fields[:1])
        return Columns(timestamps, messages, shared, None)
    ids = list(map(id, fields))  # the same mapping object shared by many records is stored once
    distinct = dict(zip(ids, fields, strict=True))  # in order of first use
    if len(distinct) == len(fields):  # each record its own (parsed fields)
        return Columns(timestamps, messages, json_array(fields), _to_bytes(array("I", range(len(fields)))))
    number = {key: n for n, key in enumerate(distinct)}
    values = json_array(list(distinct.values()))
    refs = _to_bytes(array("I", list(map(number.__getitem__, ids))))
    return Columns(timestamps, messages, values, refs)


def json_array(values: list[Any]) -> bytes:
    """The JSON array of `values`; a value that is bytes is the JSON text of a mapping (a compiled
    transform's fields, proven to be JSON orjson reads: shipper/record.py) and is written as it is."""
    types = set(map(type, values))
    if bytes not in types:
        return orjson.dumps(values)
    if len(types) == 1:
        return b"[" + b",".join(values) + b"]"
    return orjson.dumps([orjson.Fragment(value) if type(value) is bytes else value for value in values])


def encode_total(records: Sequence[Record], now_ns: int) -> tuple[Columns, Repairs]:
    """`encode`, repairing (and counting) the records that cannot be stored as they are."""
    try:
        return encode(records), Counter()
    except (OverflowError, TypeError, ValueError):  # orjson's errors are TypeErrors and ValueErrors
        repaired, repairs = repair(records, now_ns)
        return encode(repaired), repairs


def repair(records: Sequence[Record], now_ns: int) -> tuple[list[Record], Repairs]:
    """Records every part of which `encode` can store; mappings shared by records stay shared."""
    repairs: Repairs = Counter()
    mappings: dict[int, Any] = {}
    out: list[Record] = []
    for timestamp, message, fields in records:
        if type(timestamp) is not int or not INT64_MIN <= timestamp <= INT64_MAX:
            timestamp = now_ns
            repairs["timestamp_out_of_range"] += 1
        if not isinstance(message, str) or not is_valid_text(message):
            message = storable_text(message)
            repairs["unstorable_text"] += 1
        if fields is not None and type(fields) is not bytes:  # JSON text is stored as it is
            if id(fields) not in mappings:
                mappings[id(fields)] = fields if _storable(fields) else storable_mapping(fields)
            if mappings[id(fields)] is not fields:
                repairs["unstorable_value"] += 1
                fields = mappings[id(fields)]
        out.append((timestamp, message, fields))
    return out, repairs


def storable_mapping(mapping: Any) -> dict[str, Any]:
    """`mapping` with every key and value JSON can store; any other value as its JSON text."""
    if not isinstance(mapping, Mapping):
        return {"value": _text_form(mapping)}
    return {storable_text(key): value if _storable(value) else _text_form(value) for key, value in mapping.items()}


def storable_text(value: Any) -> str:
    """Text the spool can store: a string with its lone surrogates replaced, anything else its JSON text."""
    return valid_text(value) if isinstance(value, str) else _text_form(value)


def _storable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _text_form(value: Any) -> str:
    """JSON text of any value (ASCII, so always storable); a marker when even that is impossible."""
    try:
        return json.dumps(value, default=repr)
    except (RecursionError, ValueError, TypeError):
        return f"<{type(value).__name__} that cannot be stored>"


def decode(columns: Columns) -> tuple[list[int], list[str], list[Any]]:
    """(timestamps, messages, fields) of the block's records, in order."""
    stamps = _from_bytes("q", columns.timestamps)
    messages = orjson.loads(columns.messages)
    if columns.field_values is None:
        return stamps.tolist(), messages, [None] * len(messages)
    values = orjson.loads(columns.field_values)
    if columns.field_refs is None:
        return stamps.tolist(), messages, values * len(messages)
    refs = _from_bytes("I", columns.field_refs)
    return stamps.tolist(), messages, list(map(values.__getitem__, refs))


def _to_bytes(numbers: array[int]) -> bytes:
    if _SWAP:
        numbers.byteswap()
    return numbers.tobytes()


def _from_bytes(typecode: str, data: bytes) -> array[int]:
    numbers = array(typecode)
    numbers.frombytes(data)
    if _SWAP:
        numbers.byteswap()
    return numbers

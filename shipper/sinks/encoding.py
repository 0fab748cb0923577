"""Records as the bytes of one JSON object or one text line each, for the sinks that send them so
(http, firehose, kinesis_streams).

Encoding is total: a record that cannot be written as JSON (a value orjson refuses) is written with
the offending values as their JSON text; one that still cannot gives None (the sink leaves it out
and counts it), never stopping a batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, cast

import orjson

from shipper import kernels, layouts
from shipper.buffer.columns import storable_mapping
from shipper.buffer.spool import StoredBlock
from shipper.record import Record, rfc3339_texts
from shipper.text import valid_text


def encoded(block: StoredBlock, encoding: str, layout: str = "shipper") -> list[bytes | None]:
    """Each record of `block` from its start: `text` (the message) or `json` (as `as_event`, or as the
    record `layout` writes: layouts.py)."""
    if encoding == "text":
        return [valid_text(message).encode("utf-8") for message in block.messages[block.start:]]
    if layout != "shipper":
        return [json_object(block.common, block.record(index), layout)
                for index in range(block.start, len(block.messages))]
    return json_objects(block)


def json_objects(block: StoredBlock) -> list[bytes | None]:
    """Each record of `block` from its start as a JSON object: the same bytes as `as_event` gives, at a
    fraction of the cost. The block's messages are written by one orjson call, its list's elements split
    where `","` stands when no `\","` does: a quote with no backslash before it is unescaped, so ends a
    string (a message ending in `",` or a backslash makes a `\","`, and the block goes record by
    record). What follows the message (the block's common fields and the record's own) is written once
    per distinct fields mapping (records share them: a CRI stream's `{"stream": "stdout"}`); each object
    is then joined from its parts by C-level maps, without a Python step per record. The ndjson kernel
    (shipper/kernels/_ndjson.c) makes the same objects from the same tails in one call."""
    start, fields = block.start, block.fields[block.start:]
    messages = block.messages[start:]
    by_id = dict(zip(map(id, fields), fields, strict=True))
    tail_of = {key: _tail(block.common, own) for key, own in by_id.items()}
    if None in tail_of.values():  # fields orjson refuses, or the agent's names
        return _json_objects_one_by_one(block)
    tails = list(map(cast(dict[int, bytes], tail_of).__getitem__, map(id, fields)))
    if kernels.ndjson is not None:
        made: list[bytes | None] | None = kernels.ndjson.objects(block.timestamps, block.messages, tails, start)
        if made is not None:
            return made
    texts = json_string_bodies(messages)
    if texts is None:
        return _json_objects_one_by_one(block)
    times = "\n".join(rfc3339_texts(block.timestamps[start:])).encode().split(b"\n")
    objects: list[bytes | None] = list(map(b"".join, zip(
        itertools.repeat(b'{"timestamp":"'), times, itertools.repeat(b'","message":"'), texts, tails)))
    return objects


def json_string_bodies(messages: list[str]) -> list[bytes] | None:
    """Each message as the inside of its JSON string (no quotes), all written by one orjson call and
    split where `","` stands: unless a `\\","` shows, every `","` is between two messages (a quote
    with no backslash before it ends a string). None when some message needs its own call (a lone
    surrogate, or a `\\","`)."""
    if not messages:
        return []
    try:
        array = orjson.dumps(messages)[2:-2]
    except orjson.JSONEncodeError:
        return None
    return None if b'\\","' in array else array.split(b'","')


def _json_objects_one_by_one(block: StoredBlock) -> list[bytes | None]:
    """`json_objects` for a block where some record needs repairs: each record on its own."""
    return [json_object(block.common, block.record(index)) for index in range(block.start, len(block.messages))]


def json_object(common: Mapping[str, Any], record: Record, layout: str = "shipper") -> bytes | None:
    """One record as a JSON object (`as_event`, or `layout`'s); None when it cannot be written even with
    repairs."""
    event = layouts.event(layout, common, record)
    try:
        return orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:  # a value orjson refuses (a lone surrogate, an integer past 64 bits): as its text
        return orjson.dumps(storable_mapping(event))
    except (TypeError, orjson.JSONEncodeError):
        return None


def _tail(common: Mapping[str, Any], own: Mapping[str, Any] | None) -> bytes | None:
    """The JSON after the message's text (its closing quote included) of a record with these fields
    (as `as_event` orders and overrides them); None when they cannot be written as JSON as they are."""
    if "timestamp" in common or "message" in common:  # never the agent's own, but then as_event decides
        return None
    event = {"timestamp": None, "message": None, **common}
    if own:
        event.update((key, value) for key, value in own.items() if key not in event)
    del event["timestamp"], event["message"]
    try:
        text = orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return b'",' + text[1:-1] + b"}" if len(text) > 2 else b'"}'

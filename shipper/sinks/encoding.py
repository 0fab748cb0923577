"""Records as the bytes of one JSON object or one text line each, for the sinks that send them so
(http, firehose, kinesis_streams).

Encoding is total: a record that cannot be written as JSON (a value orjson refuses) is written with
the offending values as their JSON text; one that still cannot gives None (the sink leaves it out
and counts it), never stopping a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from shipper.buffer.columns import storable_mapping
from shipper.buffer.spool import StoredBlock
from shipper.record import Record, as_event, rfc3339
from shipper.text import valid_text


def encoded(block: StoredBlock, encoding: str) -> list[bytes | None]:
    """Each record of `block` from its start: `text` (the message) or `json` (as `as_event`)."""
    if encoding == "text":
        return [valid_text(message).encode("utf-8") for message in block.messages[block.start:]]
    return json_objects(block)


def json_objects(block: StoredBlock) -> list[bytes | None]:
    """Each record of `block` from its start as a JSON object. What follows the message (the block's
    common fields and the record's own) is written once per distinct fields mapping of the block
    (records share them: a CRI stream's `{"stream": "stdout"}`), then joined to each time and
    message: the same JSON as `as_event` gives, at a fraction of the cost."""
    start, messages = block.start, block.messages
    common, fields, timestamps = block.common, block.fields, block.timestamps
    tails: dict[int, bytes | None] = {}
    out: list[bytes | None] = []
    for index in range(start, len(messages)):
        own = fields[index]
        key = id(own)
        tail = tails[key] if key in tails else tails.setdefault(key, _tail(common, own))
        if tail is not None:
            try:
                out.append(b'{"timestamp":"' + rfc3339(timestamps[index]).encode() + b'","message":'
                           + orjson.dumps(messages[index]) + tail)
                continue
            except orjson.JSONEncodeError:
                pass
        out.append(json_object(common, block.record(index)))
    return out


def json_object(common: Mapping[str, Any], record: Record) -> bytes | None:
    """One record as a JSON object (`as_event`); None when it cannot be written even with repairs."""
    event = as_event(common, record)
    try:
        return orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:  # a value orjson refuses (a lone surrogate, an integer past 64 bits): as its text
        return orjson.dumps(storable_mapping(event))
    except (TypeError, orjson.JSONEncodeError):
        return None


def _tail(common: Mapping[str, Any], own: Mapping[str, Any] | None) -> bytes | None:
    """The JSON after `"message":...` of a record with these fields (as `as_event` orders and
    overrides them); None when they cannot be written as JSON as they are."""
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
    return b"," + text[1:-1] + b"}" if len(text) > 2 else b"}"

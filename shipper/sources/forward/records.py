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

from shipper.record import Record, set_aside_reserved
from shipper.sources.forward.protocol import Message


def records_of(message: Message, message_keys: list[str], anomalies: Counter[str]) -> list[Record]:
    tag = message.tag
    out: list[Record] = []
    for time_ns, record in message.entries:
        if not isinstance(record, dict):
            anomalies["malformed"] += 1
            out.append((time_ns, _json_text(record), {"tag": tag}))
            continue
        fields = {key if isinstance(key, str) else _text(key): value.decode("utf-8", "replace")
                  if isinstance(value, bytes) else value for key, value in record.items()}
        text = None
        for key in message_keys:
            value = fields.get(key)
            if isinstance(value, str):
                text = fields.pop(key)
                break
        if text is None:
            text = _json_text(fields)
        fields["tag"] = tag
        out.append((time_ns, text, set_aside_reserved(fields)))
    return out


def _text(key: Any) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)

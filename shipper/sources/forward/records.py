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


def records_of(message: Message, message_keys: list[str], anomalies: Counter[str],
               shared: dict[tuple[Any, ...], dict[str, Any]]) -> list[Record]:
    """The entries' records; records with equal fields share one mapping from `shared` (the spool
    stores a mapping once per block, and a container's records mostly differ only in their text)."""
    tag = message.tag
    out: list[Record] = []
    for time_ns, record in message.entries:
        if type(record) is not dict:
            anomalies["malformed"] += 1
            out.append((time_ns, _json_text(record), {"tag": tag}))
            continue
        if not _plain(record):
            record = {key if isinstance(key, str) else _text(key): value.decode("utf-8", "replace")
                      if isinstance(value, bytes) else value for key, value in record.items()}
        text = None
        for key in message_keys:
            if type(record.get(key)) is str:
                text = record.pop(key)
                break
        if text is None:
            text = _json_text(record)
        record["tag"] = tag
        fields = set_aside_reserved(record)
        try:  # noqa: SIM105 - per record: contextlib.suppress costs an object each time
            fields = shared.setdefault(tuple(fields.items()), fields)
        except TypeError:  # a nested map or list among the values: kept as it is
            pass
        out.append((time_ns, text, fields))
    return out


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

"""Turning lines into records, per `format` of the `file` source."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from shipper.record import Record

MALFORMED_JSON = {"parse_error": "not a JSON object"}


def plain(texts: list[str], now_ns: int) -> tuple[list[Record], int]:
    """One record per line, stamped with the read time. Returns the records and the malformed count."""
    return [(now_ns, text, None) for text in texts], 0


def json_lines(texts: list[str], now_ns: int) -> tuple[list[Record], int]:
    """One JSON object per line, its keys as the record's fields; anything else shipped raw and flagged."""
    records: list[Record] = []
    malformed = 0
    for text in texts:
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            records.append((now_ns, text, parsed))
        else:
            records.append((now_ns, text, MALFORMED_JSON))
            malformed += 1
    return records, malformed


Decoder = Callable[[list[str], int], tuple[list[Record], int]]
DECODERS: dict[str, Decoder] = {"plain": plain, "json": json_lines}

"""Text in UTF-8 bytes, the unit every size limit is given in: sizing, cutting, splitting and repair.

One implementation for every part of the agent: the readers cut over-long lines, the container
decoders cut joined fragments, the CloudWatch batcher splits events, the syslog sink fits messages,
and the spool repairs what it cannot store. A cut never falls inside a character.

Lone surrogates (which Python's `json` and systemd-python let into a `str`) are not valid UTF-8:
`valid_text` replaces each with one U+FFFD, which is how the spool stores them and how CloudWatch
receives them; the sizing functions count them as the 3 bytes they would take (`surrogatepass`),
so they never raise.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def valid_text(text: str) -> str:
    """`text` itself, or with every lone surrogate replaced by U+FFFD."""
    return text if text.isascii() or is_valid_text(text) else _SURROGATE.sub(REPLACEMENT, text)


def is_valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def cut_utf8(text: str, limit: int) -> tuple[str, str]:
    """`text` cut into a head of at most `limit` UTF-8 bytes (never inside a character) and the rest."""
    if text.isascii():
        return text[:limit], text[limit:]
    data = text.encode("utf-8", "surrogatepass")
    cut = utf8_boundary(data, limit)
    head = data[:cut].decode("utf-8", "surrogatepass")
    return head, text[len(head):]


def split_utf8(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` (>= 1) UTF-8 bytes each, cut between characters, in order; a
    character longer than `limit` (possible only below 4) is a piece alone, so the split always ends."""
    if limit < 1:
        raise ValueError(f"pieces of {limit} bytes cannot hold any text")
    if text.isascii():
        return [text[start:start + limit] for start in range(0, len(text), limit)]
    data = text.encode("utf-8", "surrogatepass")
    pieces = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never inside a character
            end -= 1
        if end == start:  # the character at `start` is longer than `limit`
            end = start + 1
            while end < len(data) and (data[end] & 0xC0) == 0x80:
                end += 1
        pieces.append(data[start:end].decode("utf-8", "surrogatepass"))
        start = end
    return pieces


def utf8_boundary(data: bytes, limit: int) -> int:
    """The largest cut <= limit that does not fall inside a UTF-8 sequence (limit if the bytes are not UTF-8)."""
    if limit >= len(data):
        return len(data)
    for cut in range(limit, max(limit - 3, 1) - 1, -1):
        if (data[cut] & 0xC0) != 0x80:
            return cut
    return limit

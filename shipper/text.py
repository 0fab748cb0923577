"""Sizes and cuts of text in UTF-8 bytes, the unit every size limit is given in."""

from __future__ import annotations


def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def cut_utf8(text: str, limit: int) -> tuple[str, str]:
    """`text` cut into a head of at most `limit` UTF-8 bytes (never inside a character) and the rest."""
    if text.isascii():
        return text[:limit], text[limit:]
    data = text.encode("utf-8", "surrogatepass")
    cut = utf8_boundary(data, limit)
    head = data[:cut].decode("utf-8", "surrogatepass")
    return head, text[len(head):]


def utf8_boundary(data: bytes, limit: int) -> int:
    """The largest cut <= limit that does not fall inside a UTF-8 sequence (limit if the bytes are not UTF-8)."""
    if limit >= len(data):
        return len(data)
    for cut in range(limit, max(limit - 3, 1) - 1, -1):
        if (data[cut] & 0xC0) != 0x80:
            return cut
    return limit

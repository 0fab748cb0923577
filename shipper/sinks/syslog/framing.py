"""Putting messages on the wire: octet counting (RFC 5425 / 6587) or a trailing LF, and size limits."""

from __future__ import annotations

from shipper.sources.files.text import cut_utf8


def octet_counting(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def newline(message: bytes) -> bytes:
    return message + b"\n"


def fit(prefix: str, text: str, max_size: int, oversize: str) -> tuple[list[str], bool]:
    """Message bodies for `text` so that prefix + body is at most `max_size` bytes; True if cut."""
    room = max_size - len(prefix.encode())
    if len(text) <= room and (text.isascii() or len(text.encode("utf-8", "replace")) <= room):
        return [text], False
    head, rest = cut_utf8(text, room)
    if oversize == "truncate":
        return [head], True
    bodies = [head]
    while rest:
        head, rest = cut_utf8(rest, room)
        bodies.append(head)
    return bodies, True


def newline_bodies(text: str, newlines: str) -> list[str]:
    """With newline framing, a message may not contain LF: escape it, or one message per line."""
    if "\n" not in text:
        return [text]
    return [text.replace("\n", "\\n")] if newlines == "escape" else text.split("\n")

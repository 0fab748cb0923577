"""Putting messages on the wire: octet counting (RFC 5425 / 6587) or a trailing LF, and size limits."""

from __future__ import annotations

from shipper.text import cut_utf8


def octet_counting(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def newline(message: bytes) -> bytes:
    return message + b"\n"


def fit(prefix: str, text: str, max_size: int, oversize: str) -> tuple[list[str], bool]:
    """Message bodies for `text` so that prefix + body is at most `max_size` bytes; True if cut."""
    # headers take at most half (rfc5424.py): never 0; sized as they are sent, a lone surrogate as `?`
    room = max(1, max_size - len(prefix.encode("utf-8", "replace")))
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
    """With newline framing, a message may not contain LF: escape it, or one message per line.

    Escaping writes a backslash as `\\\\` too, so that it can be undone: `\\n` in a message is then
    always an escaped LF, never a backslash and an `n` that the line held."""
    if newlines == "escape":
        return [text.replace("\\", "\\\\").replace("\n", "\\n") if "\\" in text or "\n" in text else text]
    return text.split("\n") if "\n" in text else [text]

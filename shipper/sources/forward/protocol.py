"""The Fluentd Forward Protocol v1, decoded: what a message says, whatever a client sends.

Modes: Message `[tag, time, record, option?]`, Forward `[tag, [[time, record], ...], option?]`,
PackedForward `[tag, <msgpack stream of [time, record]>, option?]` and CompressedPackedForward (the
same stream gzipped, `option.compressed: "gzip"`). Times: an integer or a float (seconds), the
EventTime extension (type 0: seconds and nanoseconds, big-endian 32 bits each), and the
`[time, {metadata}]` entry form Fluent Bit 2+ sends.

Decoding is total per entry: an entry that is not `[time, record]` is dropped and counted; a time
that is none of the above becomes the receive time, counted; a record that is not a map becomes a
record whose message is its text, counted. Only a message whose *shape* is not the protocol raises
ProtocolError (its connection is closed: nothing after it can be trusted to be framed right).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

EVENT_TIME = 0  # the msgpack extension type of EventTime
_SECONDS_NANOS = struct.Struct(">II")


class ProtocolError(Exception):
    """Not a forward protocol message; the connection it came on is closed."""


@dataclass(slots=True)
class Message:
    tag: str
    entries: list[tuple[int, Any]]  # (time in ns, record: a map, or anything a client sent instead)
    chunk: str | None  # the client wants {"ack": chunk} once the entries are stored
    anomalies: Counter[str] = field(default_factory=Counter)  # repairs and drops, by kind


def unpacker(max_size: int) -> msgpack.Unpacker:
    """A stream decoder for one connection: no object (nor buffered input) larger than `max_size`."""
    return msgpack.Unpacker(raw=False, unicode_errors="surrogateescape", strict_map_key=False,
                            max_buffer_size=max_size, use_list=True, timestamp=0, ext_hook=_extension)


def _extension(code: int, data: bytes) -> Any:
    """EventTime, decoded as it is unpacked: (nanoseconds,), a tuple no other msgpack value becomes."""
    if code == EVENT_TIME and len(data) == 8:
        seconds, nanoseconds = _SECONDS_NANOS.unpack(data)
        return (seconds * 1_000_000_000 + min(nanoseconds, 999_999_999),)
    return msgpack.ExtType(code, data)


def decode(message: Any, now_ns: int, max_size: int) -> Message:
    """What one decoded msgpack object says, as the protocol defines it."""
    if not isinstance(message, list) or len(message) < 2:
        raise ProtocolError("a message must be an array of at least [tag, entries]")
    tag = _text(message[0], "tag")
    second = message[1]
    if isinstance(second, list):  # Forward
        option = _option(message, 3)
        decoded = Message(tag, [], _chunk(option))
        _add_entries(decoded, second, now_ns)
        return decoded
    if isinstance(second, bytes | str):  # PackedForward, perhaps compressed
        option = _option(message, 3)
        packed = second.encode("utf-8", "surrogateescape") if isinstance(second, str) else second
        if option.get("compressed") == "gzip":
            packed = gunzip(packed, max_size)
        decoded = Message(tag, [], _chunk(option))
        stream = unpacker(max(max_size, len(packed)))
        stream.feed(packed)
        try:
            _add_entries(decoded, stream, now_ns)
        except (msgpack.UnpackException, ValueError, TypeError) as error:
            raise ProtocolError(f"the packed entries are not msgpack: {error}") from None
        return decoded
    option = _option(message, 4)  # Message
    if len(message) < 3:
        raise ProtocolError("a message-mode message is [tag, time, record, option?]")
    decoded = Message(tag, [], _chunk(option))
    _add_entry(decoded, [message[1], message[2]], now_ns)
    return decoded


def gunzip(data: bytes, max_size: int) -> bytes:
    """Gzip members, concatenated as Fluent Bit sends them, decompressed to at most `max_size` bytes."""
    out: list[bytes] = []
    total = 0
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            piece = inflater.decompress(data, max_size - total + 1)
        except zlib.error as error:
            raise ProtocolError(f"the compressed entries are not gzip: {error}") from None
        total += len(piece)
        if total > max_size or inflater.unconsumed_tail:
            raise ProtocolError(f"the compressed entries hold more than max_message_size ({max_size} bytes)")
        if not inflater.eof:
            raise ProtocolError("the compressed entries end inside a gzip member")
        out.append(piece)
        data = inflater.unused_data
    return b"".join(out)


def event_time(seconds: int, nanoseconds: int) -> msgpack.ExtType:
    """EventTime as clients encode it (for tests and peers)."""
    return msgpack.ExtType(EVENT_TIME, struct.pack(">II", seconds, nanoseconds))


def _add_entries(message: Message, entries: Iterable[Any], now_ns: int) -> None:
    """Entries in order; the common form (`[EventTime, record]`) without a call per entry."""
    append = message.entries.append
    for entry in entries:
        if type(entry) is list and len(entry) == 2 and type(entry[0]) is tuple:
            append((entry[0][0], entry[1]))
        else:
            _add_entry(message, entry, now_ns)


def _add_entry(message: Message, entry: Any, now_ns: int) -> None:
    if type(entry) is not list or len(entry) != 2:
        message.anomalies["malformed_entry"] += 1
        return
    moment, record = entry
    if isinstance(moment, list) and len(moment) == 2 and isinstance(moment[1], dict):  # [time, metadata]
        moment = moment[0]
    time_ns = _time_ns(moment)
    if time_ns is None:
        message.anomalies["bad_time"] += 1
        time_ns = now_ns
    message.entries.append((time_ns, record))


def _time_ns(moment: Any) -> int | None:
    if type(moment) is tuple:  # EventTime (see _extension)
        return int(moment[0])
    if isinstance(moment, bool):
        return None
    if isinstance(moment, int):
        return moment * 1_000_000_000 if 0 <= moment < 2**40 else None
    if isinstance(moment, float):
        return int(moment * 1e9) if math.isfinite(moment) and 0 <= moment < 2**40 else None
    if isinstance(moment, msgpack.ExtType) and moment.code == EVENT_TIME and len(moment.data) == 8:
        seconds, nanoseconds = struct.unpack(">II", bytes(moment.data))
        return int(seconds) * 1_000_000_000 + min(int(nanoseconds), 999_999_999)
    if isinstance(moment, msgpack.Timestamp):  # msgpack's own timestamp extension (type -1)
        return int(moment.to_unix_nano()) if moment.seconds >= 0 else None
    return None


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise ProtocolError(f"the {what} must be a string")


def _option(message: list[Any], position: int) -> dict[Any, Any]:
    if len(message) > position:
        raise ProtocolError("too many elements for a forward message")
    if len(message) == position:
        option = message[position - 1]
        if option is None:
            return {}
        if not isinstance(option, dict):
            raise ProtocolError("the option must be a map")
        return option
    return {}


def _chunk(option: dict[Any, Any]) -> str | None:
    chunk = option.get("chunk")
    if chunk is None:
        return None
    if isinstance(chunk, bytes):
        return chunk.decode("utf-8", "replace")
    return chunk if isinstance(chunk, str) else str(chunk)

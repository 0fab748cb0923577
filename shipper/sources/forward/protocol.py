"""The Fluentd Forward Protocol v1, decoded: what a message says, whatever a client sends.

Modes: Message `[tag, time, record, option?]`, Forward `[tag, [[time, record], ...], option?]`,
PackedForward `[tag, <msgpack stream of [time, record]>, option?]` and CompressedPackedForward (the
same stream gzipped, `option.compressed: "gzip"`). Times: an integer or a float (seconds), the
EventTime extension (type 0: seconds and nanoseconds, big-endian 32 bits each), and the
`[time, {metadata}]` entry form Fluent Bit 2+ sends.

A packed stream's entries of the common shape (an EventTime or a number, perhaps in the `[time,
{metadata}]` form, and a flat map of text keys to text, numbers, booleans or nil) are decoded by
msgspec in one call, with no Python call per entry or per EventTime; any other stream, and any that
msgspec refuses, by the general decoder (msgpack, with the reference implementation's options), to the
same entries.

Decoding is total per entry: an entry that is not `[time, record]` is dropped and counted; a time
that is none of the above becomes the receive time, counted; a record that is not a map becomes a
record whose message is its text, counted. Only a message whose *shape* is not the protocol raises
ProtocolError (its connection is closed: nothing after it can be trusted to be framed right).

Decoded work is bounded, not only bytes: a message holds at most `max_entries` entries (counted
before any is built: by the client's `size` when msgspec confirms it, else by msgpack's skip),
compressed entries inflate to at most `max_size` bytes, and a chunk id is at most MAX_CHUNK_ID
characters. A message past a bound is refused whole (ProtocolError of its kind; no ack, so a client
that asked for one sends it again, and a client that always sends such messages is refused each time).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice, starmap
from operator import attrgetter
from typing import Any

import msgpack
import msgspec
from msgspec.msgpack import Ext

EVENT_TIME = 0  # the msgpack extension type of EventTime
MAX_CHUNK_ID = 128  # characters; Fluentd and Fluent Bit send 24 (base64 of 16 bytes)
_SECONDS_NANOS = struct.Struct(">II")
_ARRAY32 = struct.Struct(">BI")  # msgpack's array header with a 32-bit count
_CODE, _DATA = attrgetter("code"), attrgetter("data")
_Time = Ext | int | float
_COMMON_ENTRIES = msgspec.msgpack.Decoder(
    list[tuple[_Time | tuple[_Time, dict[str, Any]], dict[str, str | int | float | bool | None]]])


class ProtocolError(Exception):
    """Not a forward protocol message, or one past a bound; the connection it came on is closed."""

    def __init__(self, reason: str, kind: str = "malformed"):
        super().__init__(reason)
        self.kind = kind  # the `error` label it is counted under


def too_many_entries(max_entries: int) -> ProtocolError:
    return ProtocolError(f"more than max_entries_per_message ({max_entries}) entries", "too_many_entries")


@dataclass(slots=True)
class Message:
    tag: str
    entries: list[tuple[int, Any]]  # (time in ns, record: a map, or anything a client sent instead)
    chunk: str | None  # the client wants {"ack": chunk} once the entries are stored
    anomalies: Counter[str] = field(default_factory=Counter)  # repairs and drops, by kind
    inflated: int = 0  # bytes of entries decompressed (CompressedPackedForward)
    records: list[Any] | None = None  # the entries already as records (the forward kernel's), else None

    @property
    def count(self) -> int:
        """How many entries the message holds (as entries or as records)."""
        return len(self.entries) if self.records is None else len(self.records)


# A packed stream's entries straight into records, or None to decode them here: (tag, packed, max_entries)
PackedRecords = Callable[[str, bytes, int], list[Any] | None]


def unpacker(max_size: int, max_entries: int) -> msgpack.Unpacker:
    """A stream decoder: no object (nor buffered input) larger than `max_size` bytes, no array or map
    longer than `max_entries` (or than 1,024, if that is more: an entry is an array too)."""
    longest = max(max_entries, 1024)
    return msgpack.Unpacker(raw=False, unicode_errors="surrogateescape", strict_map_key=False,
                            max_buffer_size=max_size, max_array_len=longest, max_map_len=longest,
                            use_list=True, timestamp=0, ext_hook=_extension)


def _extension(code: int, data: bytes) -> Any:
    """EventTime, decoded as it is unpacked: (nanoseconds,), a tuple no other msgpack value becomes."""
    if code == EVENT_TIME and len(data) == 8:
        return (_nanoseconds(*_SECONDS_NANOS.unpack(data)),)
    return msgpack.ExtType(code, data)


def _nanoseconds(seconds: int, nanoseconds: int) -> int:
    """An EventTime's two numbers as one time in ns; nanoseconds past 999,999,999 are clamped."""
    return seconds * 1_000_000_000 + (nanoseconds if nanoseconds < 1_000_000_000 else 999_999_999)


def _without_metadata(moment: Any) -> Any:
    """The time of an entry's `[time, {metadata}]` form (Fluent Bit 2+), else `moment` as it is: a
    list from msgpack, a tuple from msgspec (whose EventTime never becomes a tuple of two)."""
    if type(moment) in (list, tuple) and len(moment) == 2 and isinstance(moment[1], dict):
        return moment[0]
    return moment


def decode(message: Any, now_ns: int, max_size: int, max_entries: int,
           packed_records: PackedRecords | None = None) -> Message:
    """What one decoded msgpack object says, as the protocol defines it. A packed stream goes to
    `packed_records` first (the forward kernel, which gives exactly the records the entries decoded
    here become, or None)."""
    if not isinstance(message, list) or len(message) < 2:
        raise ProtocolError("a message must be an array of at least [tag, entries]")
    tag = _text(message[0], "tag")
    second = message[1]
    if isinstance(second, list):  # Forward
        if len(second) > max_entries:
            raise too_many_entries(max_entries)
        option = _option(message, 3)
        decoded = Message(tag, [], _chunk(option))
        _add_entries(decoded, second, now_ns)
        return decoded
    if isinstance(second, bytes | str):  # PackedForward, perhaps compressed
        option = _option(message, 3)
        packed = second.encode("utf-8", "surrogateescape") if isinstance(second, str) else second
        compressed = option.get("compressed") == "gzip"
        if compressed:
            packed = gunzip(packed, max_size)
        decoded = Message(tag, [], _chunk(option), inflated=len(packed) if compressed else 0)
        if packed_records is not None:
            decoded.records = packed_records(tag, packed, max_entries)
        if decoded.records is None:
            add_packed_entries(decoded, packed, now_ns, max_size, max_entries, option.get("size"))
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
    return msgpack.ExtType(EVENT_TIME, _SECONDS_NANOS.pack(seconds, nanoseconds))


def add_packed_entries(message: Message, packed: bytes, now_ns: int, max_size: int, max_entries: int,
                       size: Any = None) -> None:
    """A packed stream's entries, in order: by msgspec when every entry has the common shape, else by
    the general decoder (the result is the same; tests/sources/test_forward_protocol.py holds it).
    `size` is the option a client may send with the number of entries: a hint, never trusted."""
    common = _common_entries(packed, now_ns, max_size, max_entries, size)
    if common is None:
        add_packed_entries_generally(message, packed, now_ns, max_size, max_entries)
    else:
        message.entries, bad_times = common
        if bad_times:
            message.anomalies["bad_time"] += bad_times


def add_packed_entries_generally(message: Message, packed: bytes, now_ns: int, max_size: int,
                                 max_entries: int) -> None:
    """Entry by entry through msgpack's stream decoder; a truncated last entry is counted as malformed."""
    stream = unpacker(max(max_size, len(packed)), max_entries)
    stream.feed(packed)
    try:
        _add_entries(message, islice(stream, max_entries), now_ns)
        if len(message.entries) + message.anomalies["malformed_entry"] >= max_entries:
            stream.skip()  # one more whole entry: too many
            raise too_many_entries(max_entries)
    except msgpack.OutOfData:
        pass
    except (msgpack.UnpackException, ValueError, TypeError) as error:
        raise ProtocolError(f"the packed entries are not msgpack: {error}") from None
    if stream.tell() < len(packed):
        message.anomalies["malformed_entry"] += 1


def _common_entries(packed: bytes, now_ns: int, max_size: int, max_entries: int, size: Any
                    ) -> tuple[list[tuple[int, Any]], int] | None:
    """The entries and how many bad times were repaired, if every entry has the common shape; None if
    not. The usual stream, all EventTime, is turned into entries without a Python loop per entry."""
    decoded = _decode_common(packed, max_size, max_entries, size)
    if decoded is None:
        return None
    if not decoded:
        return [], 0
    moments, records = zip(*decoded, strict=True)
    times = _event_times(moments)
    if times is None:
        return _times_one_by_one(decoded, now_ns)
    return list(zip(times, records, strict=True)), 0


def _decode_common(packed: bytes, max_size: int, max_entries: int, size: Any
                   ) -> list[tuple[Any, dict[str, Any]]] | None:
    """msgspec decodes one object, so the entries are given an array header: with the client's `size`
    when it is right (msgspec refuses a count that leaves bytes over or runs out of them), else with
    the entries counted (msgpack skips them without building any)."""
    if type(size) is int and 0 <= size <= max_entries:
        try:
            return _COMMON_ENTRIES.decode(_ARRAY32.pack(0xDD, size) + packed)
        except (msgspec.ValidationError, RecursionError):  # a real entry that is not of the common shape
            return None
        except msgspec.DecodeError:  # the wrong count
            pass
    count = _count_entries(packed, max_size, max_entries)
    if count is None:
        return None
    try:
        return _COMMON_ENTRIES.decode(_ARRAY32.pack(0xDD, count) + packed)
    except (msgspec.DecodeError, RecursionError):  # its ValidationError too: not the common shape
        return None  # (msgspec's depth limit is Python's recursion limit, msgpack's 1,024 levels)


def _count_entries(packed: bytes, max_size: int, max_entries: int) -> int | None:
    """How many whole msgpack objects the stream holds, if nothing else: None if it ends inside one or
    is not msgpack; more than `max_entries` is a ProtocolError."""
    stream = unpacker(max(max_size, len(packed)), max_entries)
    stream.feed(packed)
    count = 0
    try:
        while True:
            stream.skip()
            count += 1
            if count > max_entries:
                raise too_many_entries(max_entries)
    except msgpack.OutOfData:
        pass
    except (msgpack.UnpackException, ValueError):
        return None
    return count if stream.tell() == len(packed) and count < 2**32 else None


def _event_times(moments: tuple[Any, ...]) -> list[int] | None:
    """Nanoseconds, if every moment is an EventTime (nanoseconds past 999,999,999 are clamped)."""
    if set(map(type, moments)) != {Ext} or set(map(_CODE, moments)) != {EVENT_TIME}:
        return None
    both = b"".join(map(_DATA, moments))
    if len(both) != 8 * len(moments):
        return None
    return list(starmap(_nanoseconds, _SECONDS_NANOS.iter_unpack(both)))


def _times_one_by_one(decoded: list[tuple[Any, dict[str, Any]]], now_ns: int
                      ) -> tuple[list[tuple[int, Any]], int] | None:
    entries: list[tuple[int, Any]] = []
    bad_times = 0
    for moment_as_sent, record in decoded:
        moment = _without_metadata(moment_as_sent)
        if type(moment) is Ext:
            times = _event_times((moment,))
            if times is None:
                return None  # msgpack's Timestamp and unknown extensions: the general decoder's way
            entries.append((times[0], record))
            continue
        time_ns = _time_ns(moment)
        if time_ns is None:
            bad_times += 1
            time_ns = now_ns
        entries.append((time_ns, record))
    return entries, bad_times


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
    time_ns = _time_ns(_without_metadata(moment))
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
        return _nanoseconds(*_SECONDS_NANOS.unpack(bytes(moment.data)))
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
        chunk = chunk.decode("utf-8", "replace")
    elif not isinstance(chunk, str):
        chunk = repr(chunk)[:MAX_CHUNK_ID + 1]
    if len(chunk) > MAX_CHUNK_ID:
        raise ProtocolError(f"a chunk id longer than {MAX_CHUNK_ID} characters")
    return chunk

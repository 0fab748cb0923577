"""One connection's bytes, as they are read, into decoded messages.

Message mode (`[tag, time, record, option?]`, one record a message, as Docker's driver sends) of the
usual shape is decoded by the forward kernel straight from the bytes read, many messages a call, into
groups of records of one tag that end where a chunk id asks for an ack (a group is one Message); a
message the kernel does not take, and everything after it until the general decoder holds no part of
a message, goes to msgpack's stream decoder and `protocol.decode`, message by message. The messages,
their records, chunk ids and the bytes each took are the same either way (tests/sources/
test_forward_framing.py holds the two equal on any stream cut anywhere).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial

import msgpack

from shipper import kernels
from shipper.sources.forward import protocol
from shipper.sources.forward.protocol import Message, ProtocolError
from shipper.sources.forward.records import make_fields, packed_records

PENDING_LIMIT = 64 * 1024  # bytes of a cut-short message kept for the kernel; a longer one goes to msgpack


class Framing:
    """What one connection has sent so far, and the messages in it."""

    def __init__(self, max_size: int, max_entries: int, message_keys: list[str], compiled: bool = True,
                 clock: Callable[[], int] = time.time_ns):
        self._stream = protocol.unpacker(max_size, max_entries)
        self._fed = 0  # bytes fed to the stream decoder
        self._decoded_to = 0  # of which its messages so far took this many (a message's size starts here);
        # the stream decoder's own tell() is no measure of what it holds: it moves into a message cut short
        self._pending = b""  # the start of a message the kernel waits to see whole
        self._max_size, self._max_entries = max_size, max_entries
        self._clock = clock  # the time in ns given to entries whose own time is not one
        self._keys = tuple(message_keys)
        self._kernel = kernels.forward if compiled else None
        self._packed = partial(packed_records, message_keys=self._keys) if self._kernel is not None else None

    def messages(self, data: bytes) -> Iterator[tuple[Message, int]]:
        """The messages `data` completes, each with the bytes it took on the wire. Raises
        msgpack.BufferFull for a message past max_size, ProtocolError for what is not the protocol."""
        if self._kernel is not None and self._decoded_to == self._fed:  # the stream decoder holds nothing
            data = self._pending + data if self._pending else data
            self._pending = b""
            groups, consumed, whole = self._kernel.messages(data, self._keys, make_fields)
            start = 0
            for tag, chunk, records, end in groups:
                yield Message(tag, [], chunk, records=records), end - start
                start = end
            data = data[consumed:]
            if not whole and len(data) <= PENDING_LIMIT and self._only_cut_short(data):
                self._pending = data
                return
        if data:
            yield from self._decoded(data)

    def _only_cut_short(self, data: bytes) -> bool:
        """Whether the stream decoder would wait for more of `data` rather than refuse it now (an array
        longer than it allows, bytes no msgpack has): what it refuses goes to it, to be refused alike."""
        probe = protocol.unpacker(self._max_size, self._max_entries)
        try:
            probe.feed(data)
            return not list(probe)
        except (msgpack.UnpackException, ValueError, TypeError):
            return False

    def _decoded(self, data: bytes) -> Iterator[tuple[Message, int]]:
        self._stream.feed(data)
        self._fed += len(data)
        for message in objects_of(self._stream):
            decoded = protocol.decode(message, self._clock(), self._max_size, self._max_entries, self._packed)
            start, self._decoded_to = self._decoded_to, self._stream.tell()
            yield decoded, self._decoded_to - start


def objects_of(stream: msgpack.Unpacker):  # type: ignore[no-untyped-def]
    """The complete objects fed so far; what is not msgpack is a ProtocolError."""
    try:
        yield from stream
    except (msgpack.UnpackException, ValueError, TypeError) as error:  # ExtraData, FormatError, StackError; an
        # array or map as a map key (unhashable); an array or map longer than the unpacker allows
        raise ProtocolError(f"not msgpack: {type(error).__name__}") from None

"""Connections of forward clients: limits, the handshakes, reading messages, writing acks.

One connection never stops the others: a message that is not the protocol or is past a bound
(`max_message_size`, `max_entries_per_message`), or a client silent past `idle_timeout`, closes that
connection alone, counted. What a connection can hold:
- Descriptors: a connection counts from accept. TLS is negotiated by us after accept, within
  `handshake_timeout`, and so is the shared-key handshake; at most MAX_HANDSHAKES_PER_ADDRESS
  connections of one address, and MAX_HANDSHAKES in all, may be in a handshake at once. Only
  connections past their handshakes count against `max_connections`: silent clients cannot lock a
  keyed one out.
- Memory: a connection decodes what it read only once the source has room (`wait_for_room`), and
  decodes and hands it over without yielding, so at most one read's messages exceed the source's
  budget (while the budget is spent, TCP holds the rest on the clients' side), and the budget is
  charged by decoded size (entries and inflated bytes), not by bytes on the wire. Acks are drained
  before the next read: a client that does not read its acks is not read either, and is closed after
  `idle_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable

import msgpack

from shipper.observe.logs import ComponentLog, WarningPace
from shipper.sources.forward import protocol
from shipper.sources.forward.config import ForwardOptions
from shipper.sources.forward.framing import Framing, objects_of
from shipper.sources.forward.handshake import Handshake
from shipper.sources.forward.protocol import Message, ProtocolError

READ_SIZE = 64 * 1024
ENTRY_COST = 256  # bytes charged per decoded entry beyond its bytes (the objects that hold it)
MAX_HANDSHAKES_PER_ADDRESS = 8
MAX_HANDSHAKES = 256  # in all, whatever the addresses


class Client:
    """One connection; acks are written to it once what it sent is stored."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) else str(peer or "")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "a client")

    def ack(self, chunk: str) -> None:
        if not self.writer.is_closing():
            self.writer.write(msgpack.packb({"ack": chunk}, unicode_errors="surrogateescape"))  # its bytes as sent


Take = Callable[[Client, Message, int], None]  # (client, message, what it costs the intake budget)


def charge(message: Message, wire_bytes: int) -> int:
    """What a decoded message costs the source's intake budget: its larger size, plus its entries."""
    return max(wire_bytes, message.inflated) + ENTRY_COST * message.count


class ForwardServer:
    def __init__(self, options: ForwardOptions, take: Take, wait_for_room: Callable[[], Awaitable[None]],
                 count_error: Callable[[str, str], None], received_bytes: Callable[[int], None], log: ComponentLog):
        self.options = options
        self._take = take
        self._wait_for_room = wait_for_room
        self._count_error = count_error
        self._received_bytes = received_bytes
        self.log = log
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._served = 0  # connections past their handshakes
        self._shaking: Counter[str] = Counter()  # connections in a handshake, by address
        self._refusal_warnings = WarningPace()
        self._tls = options.tls.context() if options.tls is not None else None
        users = {user.username: user.password.get_secret_value() for user in options.users}
        key = options.shared_key.get_secret_value() if options.shared_key is not None else None
        self._handshake = (lambda: Handshake(key, options.self_hostname, users)) if key is not None else None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.options.host, self.options.port,
                                                  limit=READ_SIZE, reuse_address=True)

    async def close(self) -> None:
        """Stop accepting and reading; what was read is the source's to store."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if await self._welcome(reader, client):
                self._served += 1
                try:
                    await self._serve(reader, client)
                finally:
                    self._served -= 1
        except ProtocolError as error:
            self._refuse(client, error.kind, f"{client.peer} sent what is not the forward protocol or is past a "
                         f"bound ({error}); closing that connection")
        except (TimeoutError, ssl.SSLError, ConnectionError, OSError):
            pass  # idle past idle_timeout, a handshake that never finished or failed, or the client went away
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _welcome(self, reader: asyncio.StreamReader, client: Client) -> bool:
        """Whether the connection may be served: under the limits, past TLS and the shared-key handshake."""
        if self._tls is None and self._handshake is None:
            return self._room_to_serve(client)
        if self._shaking[client.address] >= MAX_HANDSHAKES_PER_ADDRESS or self._shaking.total() >= MAX_HANDSHAKES:
            self._refuse(client, "too_many_handshakes", f"{client.peer}: more than {MAX_HANDSHAKES_PER_ADDRESS} "
                         f"handshakes of its address (or {MAX_HANDSHAKES} in all) at once; closing it")
            return False
        self._shaking[client.address] += 1
        try:
            async with asyncio.timeout(self.options.handshake_timeout):
                if self._tls is not None:
                    await client.writer.start_tls(self._tls)
                if self._handshake is not None and not await self._shake_hands(reader, client):
                    return False
        finally:
            self._shaking[client.address] -= 1
            if not self._shaking[client.address]:
                del self._shaking[client.address]
        return self._room_to_serve(client)

    def _room_to_serve(self, client: Client) -> bool:
        if self._served < self.options.max_connections:
            return True
        self._refuse(client, "too_many_connections",
                     f"more than max_connections ({self.options.max_connections}) clients; closing {client.peer}")
        return False

    async def _serve(self, reader: asyncio.StreamReader, client: Client) -> None:
        framing = Framing(self.options.max_message_size, self.options.max_entries_per_message,
                          self.options.message_keys)
        while True:
            # the acks written so far have left (or wait below the write buffer's mark)
            await asyncio.wait_for(client.writer.drain(), self.options.idle_timeout)
            data = await asyncio.wait_for(reader.read(READ_SIZE), self.options.idle_timeout)
            if not data:
                return
            self._received_bytes(len(data))
            await self._wait_for_room()
            try:
                for message, size in framing.messages(data):  # no await until the read is decoded: see the docstring
                    self._take(client, message, charge(message, size))
            except msgpack.BufferFull:
                self._refuse(client, "message_too_large", f"{client.peer} sent a message larger than "
                             f"max_message_size ({self.options.max_message_size} bytes); closing that connection")
                return

    async def _shake_hands(self, reader: asyncio.StreamReader, client: Client) -> bool:
        assert self._handshake is not None
        handshake = self._handshake()
        client.writer.write(handshake.helo())
        stream = protocol.unpacker(64 * 1024, 16)
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                return False
            try:
                stream.feed(data)
            except msgpack.BufferFull:
                raise ProtocolError("a PING larger than 64 KiB") from None
            for ping in objects_of(stream):
                pong, refusal = handshake.answer(ping)
                client.writer.write(pong)
                await client.writer.drain()
                if refusal is not None:
                    self._refuse(client, "handshake", f"{client.peer} failed the handshake: {refusal}")
                    return False
                return True

    def _refuse(self, client: Client, error: str, message: str) -> None:
        self._count_error("connection", error)
        if self._refusal_warnings.due(error) is not None:
            self.log.warning("%s", message)

"""Connections of forward clients: limits, the handshake, reading messages, writing acks.

One connection never stops the others: a message that is not the protocol, larger than
`max_message_size`, or a client silent past `idle_timeout` closes that connection alone, counted.
Reading waits while the source holds `intake_limit` bytes not yet stored: clients then buffer on
their side (TCP back-pressure); nothing is accepted and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import msgpack

from shipper.observe.logs import ComponentLog, WarningPace
from shipper.sources.forward import protocol
from shipper.sources.forward.config import ForwardOptions
from shipper.sources.forward.handshake import Handshake
from shipper.sources.forward.protocol import Message, ProtocolError

READ_SIZE = 64 * 1024


class Client:
    """One connection; acks are written to it once what it sent is stored."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "a client")

    def ack(self, chunk: str) -> None:
        if not self.writer.is_closing():
            self.writer.write(msgpack.packb({"ack": chunk}))


Take = Callable[[Client, Message, int], Awaitable[None]]  # (client, message, its size on the wire)


class ForwardServer:
    def __init__(self, options: ForwardOptions, take: Take, count_error: Callable[[str, str], None],
                 received_bytes: Callable[[int], None], log: ComponentLog):
        self.options = options
        self._take = take
        self._count_error = count_error
        self._received_bytes = received_bytes
        self.log = log
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._refusal_warnings = WarningPace()
        users = {user.username: user.password.get_secret_value() for user in options.users}
        key = options.shared_key.get_secret_value() if options.shared_key is not None else None
        self._handshake = (lambda: Handshake(key, options.self_hostname, users)) if key is not None else None

    async def start(self) -> None:
        context = self.options.tls.context() if self.options.tls is not None else None
        self._server = await asyncio.start_server(self._accept, self.options.host, self.options.port, ssl=context,
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
        if len(self._tasks) >= self.options.max_connections:
            self._refuse(client, "too_many_connections",
                         f"more than max_connections ({self.options.max_connections}) clients; closing {client.peer}")
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, client)
        except ProtocolError as error:
            self._refuse(client, "malformed", f"{client.peer} sent what is not the forward protocol ({error}); "
                         "closing that connection")
        except TimeoutError:
            pass  # idle past idle_timeout, or a handshake that never finished
        except (ConnectionError, OSError):
            pass  # the client went away
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, client: Client) -> None:
        if self._handshake is not None and not await self._shake_hands(reader, client):
            return
        stream = protocol.unpacker(self.options.max_message_size)
        while True:
            data = await asyncio.wait_for(reader.read(READ_SIZE), self.options.idle_timeout)
            if not data:
                return
            self._received_bytes(len(data))
            try:
                stream.feed(data)
            except msgpack.BufferFull:
                self._refuse(client, "message_too_large", f"{client.peer} sent a message larger than "
                             f"max_message_size ({self.options.max_message_size} bytes); closing that connection")
                return
            start = stream.tell()
            for message in _messages(stream):
                decoded = protocol.decode(message, time.time_ns(), self.options.max_message_size)
                end = stream.tell()
                await self._take(client, decoded, end - start)
                start = end

    async def _shake_hands(self, reader: asyncio.StreamReader, client: Client) -> bool:
        assert self._handshake is not None
        handshake = self._handshake()
        client.writer.write(handshake.helo())
        stream = protocol.unpacker(64 * 1024)
        deadline = time.monotonic() + self.options.handshake_timeout
        while True:
            data = await asyncio.wait_for(reader.read(READ_SIZE), max(0.0, deadline - time.monotonic()))
            if not data:
                return False
            try:
                stream.feed(data)
            except msgpack.BufferFull:
                raise ProtocolError("a PING larger than 64 KiB") from None
            for ping in _messages(stream):
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


def _messages(stream: msgpack.Unpacker):  # type: ignore[no-untyped-def]
    """The complete objects fed so far; what is not msgpack is a ProtocolError."""
    try:
        yield from stream
    except (msgpack.UnpackException, ValueError, TypeError) as error:  # ExtraData, FormatError, StackError; an
        # array or map as a map key (unhashable)
        raise ProtocolError(f"not msgpack: {type(error).__name__}") from None

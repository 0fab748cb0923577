"""The forward server's bounds against hostile connections, in process with real sockets: handshakes
(shared key, TLS) have their own deadline and per-address limit and do not count against
`max_connections`; acks a client does not read stop its reads instead of growing a buffer; chunk ids
are capped; the intake budget is charged by decoded size."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest

from peers.pki import CertificateAuthority
from peers.rsyslog import free_port
from shipper.observe.logs import ComponentLog
from shipper.sources.forward.config import ForwardOptions
from shipper.sources.forward.protocol import MAX_CHUNK_ID, Message
from shipper.sources.forward.server import MAX_HANDSHAKES_PER_ADDRESS, Client, ForwardServer, charge

KEY = "k3y"


class Harness:
    """A server whose messages are taken (and acked) at once, with what it counted."""

    def __init__(self, **options: Any):
        self.port = free_port()
        self.options = ForwardOptions.model_validate(
            {"type": "forward", "address": f"127.0.0.1:{self.port}", "handshake_timeout": "1s", **options})
        self.taken: list[Message] = []
        self.errors: list[str] = []
        self.largest_write_buffer = 0
        self.server = ForwardServer(self.options, self.take, self.room, lambda _kind, error: self.errors.append(error),
                                    lambda _size: None, ComponentLog(logging.getLogger("test"), {}))

    def take(self, client: Client, message: Message, size: int) -> None:
        self.taken.append(message)
        if message.chunk is not None:
            client.ack(message.chunk)
        transport = client.writer.transport
        self.largest_write_buffer = max(self.largest_write_buffer, transport.get_write_buffer_size())

    async def room(self) -> None:
        return None


@pytest.fixture
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    made = Harness(**getattr(request, "param", {}))
    await made.server.start()
    yield made
    await made.server.close()


async def until(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def connect(port: int, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def closed(reader: asyncio.StreamReader, timeout: float = 10.0) -> bool:
    """Whether the server closes the connection (within `timeout`) without sending more."""
    async with asyncio.timeout(timeout):
        try:
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
    return True


async def log_in(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The client's side of the shared-key handshake."""
    unpacker = msgpack.Unpacker()
    while True:
        unpacker.feed(await reader.read(4096))
        helo = next(iter(unpacker), None)
        if helo is not None:
            break
    nonce, salt, hostname = helo[1]["nonce"], b"salt", "client"
    digest = hashlib.sha512(salt + hostname.encode() + nonce + KEY.encode()).hexdigest()
    writer.write(msgpack.packb(["PING", hostname, salt, digest]))
    await writer.drain()
    while True:
        unpacker.feed(await reader.read(4096))
        pong = next(iter(unpacker), None)
        if pong is not None:
            assert pong[1] is True, pong
            return


@pytest.mark.parametrize("harness", [{"shared_key": KEY, "max_connections": 1}], indirect=True)
async def test_silent_handshakes_neither_use_max_connections_nor_pass_a_per_address_limit(harness):
    silent = [await connect(harness.port, "127.0.0.2") for _ in range(MAX_HANDSHAKES_PER_ADDRESS)]
    await until(lambda: len(harness.server._shaking) == 1 and harness.server._shaking.total() == len(silent))
    one_more_reader, _ = await connect(harness.port, "127.0.0.2")
    assert await closed(one_more_reader)  # past the per-address limit: closed at once

    reader, writer = await connect(harness.port)  # a keyed client from elsewhere is still served
    await log_in(reader, writer)
    writer.write(msgpack.packb(["app", 1_700_000_000, {"log": "served"}]))
    await until(lambda: len(harness.taken) == 1)

    assert all([await closed(silent_reader, 5.0) for silent_reader, _ in silent])  # past handshake_timeout
    assert harness.errors == ["too_many_handshakes"]
    writer.close()


async def test_silent_tls_connections_are_counted_from_accept_and_closed_after_the_handshake_timeout(
        tmp_path_factory):
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    issued = ca.issue("forward")
    harness = Harness(tls={"cert_file": str(issued.cert_file), "key_file": str(issued.key_file)})
    await harness.server.start()
    try:
        silent = [await connect(harness.port, "127.0.0.3") for _ in range(MAX_HANDSHAKES_PER_ADDRESS + 1)]
        context = ssl.create_default_context(cafile=str(ca.ca_file))
        _, writer = await asyncio.open_connection("127.0.0.1", harness.port, ssl=context,
                                                       server_hostname="localhost")
        writer.write(msgpack.packb(["app", 1_700_000_000, {"log": "over tls"}]))
        await until(lambda: len(harness.taken) == 1)

        assert await closed(silent[-1][0], 0.5)  # one past the per-address limit: at once
        assert all([await closed(silent_reader, 5.0) for silent_reader, _ in silent[:-1]])
        assert harness.errors == ["too_many_handshakes"]
        writer.close()
    finally:
        await harness.server.close()


async def test_a_client_that_never_reads_its_acks_is_not_read_either(harness):
    chunk = "c" * MAX_CHUNK_ID
    message = msgpack.packb(["app", 1_700_000_000, {"log": "x"}, {"chunk": chunk}])
    with socket.create_connection(("127.0.0.1", harness.port)) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.setblocking(False)
        unsent = message * 400_000  # about 57 MB of acks asked for, if the server kept reading
        for _ in range(400):
            try:
                unsent = unsent[client.send(unsent[:1 << 20]):]
            except BlockingIOError:
                await asyncio.sleep(0.01)

        assert unsent and len(harness.taken) < 400_000 // 2
        assert harness.largest_write_buffer < 1024 * 1024


async def test_an_ack_gives_back_the_chunk_ids_bytes_even_when_they_are_not_utf8(harness):
    reader, writer = await connect(harness.port)
    writer.write(msgpack.packb(["app", 1_700_000_000, {"log": "x"}, {"chunk": b"\xff\xfeid"}], use_bin_type=False))

    answer = msgpack.unpackb(await reader.read(4096), raw=True)

    assert answer == {b"ack": b"\xff\xfeid"}
    writer.close()


async def test_a_chunk_id_past_the_cap_closes_its_connection(harness):
    reader, writer = await connect(harness.port)
    writer.write(msgpack.packb(["app", 1_700_000_000, {"log": "x"}, {"chunk": "c" * (MAX_CHUNK_ID + 1)}]))

    assert await closed(reader)
    assert harness.taken == [] and harness.errors == ["malformed"]


@pytest.mark.parametrize("harness", [{"max_entries_per_message": 1000}], indirect=True)
async def test_a_small_compressed_message_that_inflates_to_millions_of_entries_is_refused(harness):
    bomb = gzip.compress(msgpack.packb([0, {}]) * 2_000_000)
    assert len(bomb) < 16 * 1024
    reader, writer = await connect(harness.port)
    writer.write(msgpack.packb(["app", bomb, {"compressed": "gzip"}]))

    assert await closed(reader)
    assert harness.taken == [] and harness.errors == ["too_many_entries"]


def test_the_intake_budget_is_charged_by_decoded_size_not_by_wire_bytes():
    many = Message("app", [(0, {})] * 10_000, None, inflated=40_000)

    assert charge(many, 100) >= 10_000 * 64
    assert charge(Message("app", [], None), 5_000) == 5_000

"""The syslog sink's settle window on a real TCP server that drops the first connection part-way: many
batches settle at once, and a failure writes every batch not settled again, in spool order, on a new
connection, so every line arrives and the second connection's stream has no gap."""

from __future__ import annotations

import asyncio
import contextlib
import re

from shipper.sinks.syslog.config import SyslogOptions as Options
from shipper.sinks.syslog.sink import SyslogSink
from tests.sinks.harness import SOURCE, running, store, until

LINES = 12_000
NUMBER = re.compile(rb"m(\d{6})")


class DroppingServer:
    """Keeps what each connection received; cuts the first one once it has `cut_after` lines."""

    def __init__(self, cut_after: int):
        self.cut_after = cut_after
        self.connections: list[list[int]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines: list[int] = []
        self.connections.append(lines)
        first = len(self.connections) == 1
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                lines += [int(n) for n in NUMBER.findall(line)]
                if first and len(lines) >= self.cut_after:
                    writer.transport.abort()
                    return
        writer.close()


async def test_a_connection_cut_mid_stream_sends_every_unsettled_batch_again_in_order(spool):
    server = DroppingServer(cut_after=7_000)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    options = Options.model_validate({"type": "syslog", "inputs": [SOURCE], "address": f"127.0.0.1:{port}",
                                      "mode": "tcp", "framing": "newline", "settle_time": "2s"})
    sink = SyslogSink("out", options, spool)
    async with listening, running(sink):
        for start in range(0, LINES, 1_000):  # twelve blocks: a few reads, all within one settle window
            await store(spool, *(f"m{n:06d}" for n in range(start, start + 1_000)))
        await until(lambda: sink.idle.is_set(), timeout=30)

    first, *rest = server.connections
    again = [n for connection in rest for n in connection]
    assert len(first) >= 7_000 and rest
    assert set(first) | set(again) == set(range(LINES))  # nothing lost
    assert again == list(range(again[0], LINES))  # written again from the oldest unsettled batch, in order
    assert again[0] <= len(first) <= LINES  # nothing the first connection did not get was skipped
    assert spool.cursor("out") == spool.tail()

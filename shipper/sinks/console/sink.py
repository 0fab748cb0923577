"""`console`: one line per record on standard output (JSON objects, or the bare message)."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from typing import IO

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.sinks.base import count_sent
from shipper.sinks.batching import BatchingSink, EveryRead, Read
from shipper.sinks.console.config import ConsoleOptions
from shipper.sinks.encoding import encoded

READ_RECORDS = 10_000


class ConsoleSink(BatchingSink[Read]):
    """Each read is written at once, one write at a time, in spool order."""

    options: ConsoleOptions

    _writer: asyncio.StreamWriter | None = None
    _file: IO[bytes] | None = None

    def __init__(self, sink_id: str, options: ConsoleOptions, spool: Spool):
        super().__init__(sink_id, options, spool, EveryRead(), in_flight=1, batch_timeout=0.0,
                         read_records=READ_RECORDS)

    async def send(self, read: Read) -> None:
        blocks = read.blocks
        lines: list[bytes] = []
        for block in blocks:
            if self.options.encoding == "json":
                objects = encoded(block, "json", self.options.layout)
                kept = [line for line in objects if line is not None]
                self._count_unencodable(len(objects) - len(kept))
                lines += kept
            else:
                lines += [message.encode("utf-8", "surrogateescape") for message in block.messages[block.start:]]
        payload = b"\n".join(lines) + b"\n"
        await self._write(payload)
        count_sent(self, len(lines), len(payload))
        self.observe_latency(block.timestamps[-1] / 1e9 for block in (blocks[0], blocks[-1]))

    def _count_unencodable(self, records: int) -> None:
        if records:
            metrics.events_discarded.labels(*self.labels, "unencodable").inc(records)

    async def open(self) -> None:
        """Take the descriptor before the sources start (they may take every other one)."""
        await self._open()

    async def _write(self, payload: bytes) -> None:
        """Write without blocking the event loop when stdout is a pipe that a slow reader drains."""
        if self._writer is not None:
            self._writer.write(payload)
            await self._writer.drain()
        else:
            assert self._file is not None
            self._file.write(payload)
            self._file.flush()

    async def _open(self) -> None:
        fd = os.dup(sys.stdout.fileno())
        if stat.S_ISREG(os.fstat(fd).st_mode):
            self._file = os.fdopen(fd, "wb")
            return
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb"))
        transport.set_write_buffer_limits(high=0)  # drain() returns once every byte is in the pipe, not before
        self._writer = asyncio.StreamWriter(transport, protocol, None, loop)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()

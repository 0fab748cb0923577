"""`console`: one line per record on standard output (JSON objects, or the bare message)."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from typing import IO

from shipper.buffer.spool import StoredBlock
from shipper.observe import metrics
from shipper.sinks.base import SequentialSink, count_sent
from shipper.sinks.console.config import ConsoleOptions
from shipper.sinks.encoding import encoded


class ConsoleSink(SequentialSink):
    options: ConsoleOptions

    _writer: asyncio.StreamWriter | None = None
    _file: IO[bytes] | None = None

    async def deliver(self, blocks: list[StoredBlock]) -> None:
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

"""A source running on a real spool in the test's event loop, started and stopped as the agent does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shipper.buffer.spool import Spool
from shipper.record import Record


class SourceHarness:
    """`async with SourceHarness(...) as harness:` runs the source; its records stay readable after."""

    def __init__(self, tmp_path: Path, source_class: type, source_id: str, options: Any):
        self.data = tmp_path / "data"
        self.source_class, self.source_id, self.options = source_class, source_id, options

    async def __aenter__(self) -> SourceHarness:
        self.spool = Spool.open(self.data, 64 * 1024 * 1024)
        self.spool.attach_sinks({"out": [self.source_id]})  # never acknowledges: the spool keeps every record
        self.source = self.source_class(self.source_id, self.options, self.spool, "host")
        self.task = asyncio.create_task(self.source.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.source.stop()
        await self.task
        self.final = self.records()
        self.spool.close()

    def records(self) -> list[tuple[Mapping[str, Any], Record]]:
        """(the block's common fields, record) of everything in the spool, in order."""
        if hasattr(self, "final"):
            return self.final
        return [(block.common, record) for block in self.spool.read("out", self.spool.cursor("out"), 1_000_000)
                for record in block.records[block.start:]]

    def messages(self) -> list[str]:
        return [record[1] for _, record in self.records()]


async def until(condition: Callable[[], bool], timeout: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s"
        await asyncio.sleep(0.01)

"""What the sinks' tests on a real spool share: a spool one sink reads, records stored into it, a sink
running until the test is done, and waiting for a condition."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from shipper.buffer.spool import Spool
from shipper.record import Block
from shipper.sinks.base import Sink

SOURCE = "app"


def open_spool(directory: Path) -> Spool:
    """A spool in `directory` with one sink, `out`, taking SOURCE."""
    spool = Spool.open(directory, max_size=1 << 30)
    spool.attach_sinks({"out": [SOURCE]})
    return spool


async def store(spool: Spool, *messages: str) -> None:
    """One block of SOURCE holding `messages`."""
    await spool.append([Block(SOURCE, {}, [(0, m, None) for m in messages])], {}, SOURCE)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(sink: Sink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(sink.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await task

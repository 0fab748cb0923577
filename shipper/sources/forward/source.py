"""The `forward` source: Fluentd forward clients' records into the spool, acknowledged once stored.

Where a record enters: a connection (server.py) decodes messages and hands them to `_take`; the
commit loop stores everything taken since its last commit in one spool transaction, then writes
each message's ack (when the client asked for one with `chunk`). A client that sees no ack sends
again, so a crash between the commit and the ack repeats those records; a crash before the commit
loses nothing a client asked acks for (it sends again), and what clients sent without asking for
acks is only as safe as that choice.

Memory: at most `INTAKE_BYTES` (or one `max_message_size`, if larger) of messages wait to be stored,
charged by decoded size (server.py: `charge`), plus one read's messages; beyond it connections stop
reading. Each connection also buffers its unfinished message (at most `max_message_size`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.record import Block, Record
from shipper.sources.base import Source
from shipper.sources.forward.config import ForwardOptions
from shipper.sources.forward.protocol import Message
from shipper.sources.forward.records import records_of
from shipper.sources.forward.server import Client, ForwardServer

INTAKE_BYTES = 16 * 1024 * 1024
DISCARDED = ("malformed_entry", "too_deep")  # entries no record is made of: counted as discarded
COMMIT_RECORDS = 5_000  # records per spool transaction, at most (a message is never split)


@dataclass(slots=True)
class Taken:
    client: Client
    message: Message
    size: int


class ForwardSource(Source):
    options: ForwardOptions

    def __init__(self, source_id: str, options: ForwardOptions, spool: Spool, hostname: str):
        super().__init__(source_id, options, spool, hostname)
        self._taken: deque[Taken] = deque()
        self._held = 0
        self._limit = max(INTAKE_BYTES, options.max_message_size)
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    async def run(self) -> None:
        self._taken, self._held = deque(), 0
        server = ForwardServer(self.options, self._take, self._wait_for_room, self.count_error, self.received_bytes.inc,
                               self.log)
        try:
            await server.start()
        except OSError as error:
            raise OSError(f"cannot listen on {self.options.address}: {error.strerror or error}") from None
        self.log.info("listening for forward clients on %s%s", self.options.address,
                      " (TLS)" if self.options.tls else "")
        try:
            while not self.stopping.is_set():
                await self._arrived.wait()  # set by a message taken, and by stop()
                await self._store_taken()
        finally:
            await server.close()
            with contextlib.suppress(Exception):  # what was read before the stop is stored too
                await self._store_taken()

    def stop(self) -> None:
        super().stop()
        self._arrived.set()

    async def _wait_for_room(self) -> None:
        """Returns once less than the intake budget waits to be stored (connections read only then)."""
        while self._held >= self._limit:
            self._room.clear()
            await self._room.wait()

    def _take(self, client: Client, message: Message, size: int) -> None:
        """A decoded message, stored at the next commit; `size` is what it costs the intake budget."""
        self._taken.append(Taken(client, message, size))
        self._held += size
        self._arrived.set()

    async def _store_taken(self) -> None:
        while self._taken:
            batch: list[Taken] = []
            count = 0
            while self._taken and (not batch or count + self._taken[0].message.count <= COMMIT_RECORDS):
                taken = self._taken.popleft()
                batch.append(taken)
                count += taken.message.count
            if not self._taken:
                self._arrived.clear()
            await self._commit(batch)
            self._held -= sum(taken.size for taken in batch)
            if self._held < self._limit:
                self._room.set()

    async def _commit(self, batch: list[Taken]) -> None:
        anomalies: Counter[str] = Counter()
        records: list[Record] = []
        shared: dict[tuple[Any, ...], dict[str, Any]] = {}
        for taken in batch:
            records += records_of(taken.message, self.options.message_keys, anomalies, shared, self.options.max_depth)
            anomalies.update(taken.message.anomalies)
        common = {"host": self.hostname, "source_type": self.type}
        await self.commit(Block(self.id, common, records) if records else None, {}, where="forward clients")
        self.received_events.inc(len(records))
        for kind, count in anomalies.items():
            if kind in DISCARDED:
                metrics.events_discarded.labels(*self.labels, kind).inc(count)
            else:
                self.count_anomaly(kind, count)
        for taken in batch:
            if taken.message.chunk is not None:
                taken.client.ack(taken.message.chunk)

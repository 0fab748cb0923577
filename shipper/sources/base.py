"""What every source shares: commits to the spool that never refuse a record, counted repairs, and a
stop request that is honoured between spool transactions."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

from shipper.buffer.spool import Spool
from shipper.config.base import SourceOptions
from shipper.observe import metrics
from shipper.observe.logs import ComponentLog, WarningPace
from shipper.record import Block, Fanout, unchanged

log = logging.getLogger(__name__)

REPAIR_WARNING_INTERVAL = 10.0  # seconds between warnings about repaired records, per source


class Reads:
    """Reads waiting to be committed together. Committing each small read alone costs a spool
    transaction apiece (100,000 tiny files: 100,000 commits, each writing whole pages); together they
    are one transaction, and each read's records still commit with its checkpoint: a crash before
    the commit loses neither, both are read again."""

    def __init__(self, most_bytes: int, most_reads: int = 1000):
        self.most_bytes, self.most_reads = most_bytes, most_reads
        self.clear()

    def clear(self) -> None:
        self.blocks: list[Block] = []
        self.checkpoints: dict[str, bytes | None] = {}
        self.places: list[str] = []  # where each read with records came from, for warnings about repairs
        self.done: list[Callable[[], None]] = []  # what each read does once it is committed
        self.size = 0

    def add(self, block: Block | None, checkpoints: Mapping[str, bytes | None], size: int = 0,
            where: str = "", then: Callable[[], None] | None = None) -> None:
        """A read: its records (None: none), the checkpoints after them (later values of a key replace
        earlier ones), its size in bytes read, and what to do once it is committed."""
        if block is not None:
            self.blocks.append(block)
            if where:
                self.places.append(where)
        self.checkpoints.update(checkpoints)
        if then is not None:
            self.done.append(then)
        self.size += size

    def full(self) -> bool:
        return self.size >= self.most_bytes or len(self.done) >= self.most_reads


CRASH_LOOP_FAILURES = 3
CRASH_LOOP_WINDOW = 90.0  # seconds: longer than the longest restart delay and a short run


class Source(ABC):
    def __init__(self, source_id: str, options: SourceOptions, spool: Spool, hostname: str):
        self.id = source_id
        self.options = options
        self.type = options.type
        self.spool = spool
        self.hostname = hostname
        self.stopping = asyncio.Event()
        self.fanout: Fanout = unchanged  # the agent sets what the transforms make of its blocks
        self.labels = ("source", source_id, self.type)  # component_kind, component_id, component_type
        self.log = ComponentLog(logging.getLogger(type(self).__module__),
                                {"component_kind": "source", "component": source_id})
        self.received_events = metrics.events_received.labels(*self.labels)
        self.received_bytes = metrics.bytes_received.labels(*self.labels)
        self._repair_warnings = WarningPace(REPAIR_WARNING_INTERVAL)
        self.failures_in_row = 0  # the agent's supervisor counts the times run() failed in a row...
        self.last_failure = ""  # ... what the last one said
        self.last_failure_at = 0.0  # ... and when (monotonic)

    def problem(self, now: float | None = None) -> tuple[str, str] | None:
        """Why the source is not ready: it failed CRASH_LOOP_FAILURES times in a row, the last one
        within CRASH_LOOP_WINDOW (a source that runs again is ready again)."""
        now = time.monotonic() if now is None else now
        if self.failures_in_row >= CRASH_LOOP_FAILURES and now - self.last_failure_at < CRASH_LOOP_WINDOW:
            return "crash_loop", f"{self.last_failure} ({self.failures_in_row} failures in a row; restarting)"
        return None

    @abstractmethod
    async def run(self) -> None:
        """Read until `stopping` is set; every read is committed to the spool with its checkpoint."""

    async def commit(self, block: Block | None, checkpoints: Mapping[str, bytes | None], where: str = "") -> None:
        """Store what the transforms make of `block` with the checkpoints after it, in one transaction.
        Records the spool cannot store as they are come back repaired: counted by kind, and named
        (`where`: a file and offset) in a warning at most every REPAIR_WARNING_INTERVAL seconds."""
        await self._store([block] if block is not None else [], checkpoints, where)

    async def commit_reads(self, reads: Reads) -> None:
        """Store several reads in one transaction (each read's records with its checkpoint, as ever),
        then tell each read it is committed; `reads` is empty afterwards."""
        if not reads.checkpoints and not reads.blocks:
            return
        where = reads.places[0] if len(reads.places) == 1 else \
            f"{len(reads.places)} reads committed together, the first {reads.places[0]}" if reads.places else ""
        await self._store(reads.blocks, reads.checkpoints, where)
        done = reads.done
        reads.clear()
        for then in done:
            then()

    async def _store(self, read: Sequence[Block], checkpoints: Mapping[str, bytes | None], where: str) -> None:
        blocks = [stored for block in read for stored in self.fanout(block)]
        repairs = await self.spool.append(blocks, checkpoints, source=self.id)
        if not repairs:
            return
        for kind, count in repairs.items():
            self.count_anomaly(kind, count)
        if self._repair_warnings.due() is not None:
            kinds = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in repairs.items())
            self.log.warning("stored records repaired (%s)%s", kinds, f" from {where}" if where else "")

    def stop(self) -> None:
        self.stopping.set()

    def count_anomaly(self, kind: str, count: int = 1) -> None:
        metrics.input_anomalies.labels(*self.labels, kind).inc(count)

    def count_error(self, stage: str, error: str) -> None:
        metrics.errors.labels(*self.labels, stage, error).inc()

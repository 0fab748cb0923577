"""What every source shares: a stop request that is honoured between spool transactions."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from shipper.buffer.spool import Spool
from shipper.observe import metrics


class Source(ABC):
    type: ClassVar[str]

    def __init__(self, source_id: str, options: Any, spool: Spool, hostname: str):
        self.id = source_id
        self.options = options
        self.spool = spool
        self.hostname = hostname
        self.stopping = asyncio.Event()
        self.received_events = metrics.events_received.labels(source_id, self.type)
        self.received_bytes = metrics.bytes_received.labels(source_id, self.type)

    @abstractmethod
    async def run(self) -> None:
        """Read until `stopping` is set; every read is committed to the spool with its checkpoint."""

    def stop(self) -> None:
        self.stopping.set()

    def count_anomaly(self, kind: str, count: int = 1) -> None:
        metrics.input_anomalies.labels(self.id, self.type, kind).inc(count)

    def count_error(self, stage: str, error: str) -> None:
        metrics.errors.labels(self.id, self.type, stage, error).inc()

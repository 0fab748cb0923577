"""The `syslog` sink: RFC 5424 messages over one TLS connection, acknowledged once they have settled.

Syslog has no application acknowledgements. A batch counts as delivered when its bytes have left
the transport's buffer for the kernel and the connection has then gone `settle_time` without a
close or reset from the server; only then is it acknowledged to the spool. A failure inside that
window rewinds to the last acknowledged position and sends everything after it again on a new
connection: duplicates are possible; losses only of bytes the server took into its socket and then
threw away while the connection still looked healthy for `settle_time`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from shipper.backoff import delay
from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.observe import metrics
from shipper.sinks.base import Sink, count_sent
from shipper.sinks.syslog.config import SyslogOptions
from shipper.sinks.syslog.encoder import Encoder
from shipper.sinks.syslog.transport import CertificateError, Connection, HandshakeError, TransportError

BATCH_RECORDS = 5_000
BACKOFF = (0.25, 30.0)  # seconds: the first and the longest wait between connection attempts


class SyslogSink(Sink):
    options: SyslogOptions

    def __init__(self, sink_id: str, options: SyslogOptions, spool: Spool):
        super().__init__(sink_id, options, spool)
        self.encoder = Encoder(options)
        self.connection = Connection(self.options)
        self._oversize = metrics.input_anomalies.labels(*self.labels, f"oversize_{self.options.oversize}")

    async def run(self) -> None:
        acked = sent = self.spool.cursor(self.id)
        unsettled: deque[tuple[Position, float]] = deque()  # written, waiting for settle_time
        failures = 0
        while True:
            try:
                blocks = self.spool.read(self.id, sent, BATCH_RECORDS)
                self.count_received(blocks)
                if blocks:
                    await self._send(blocks)
                    sent = blocks[-1].end()
                    unsettled.append((sent, time.monotonic() + self.options.settle_time))
                elif not unsettled:
                    acked = sent = max(sent, self.spool.tail())
                    self.spool.ack(self.id, acked)
                    await self._wait_idle(sent)
                    continue
                acked = self._settle(unsettled, acked)
                if not blocks and unsettled:
                    await self._wait(unsettled[0][1], sent)
                failures = 0
            except TransportError as error:
                failures += 1
                await self._failed(error, failures)
                if sent != acked:
                    metrics.retries.labels(*self.labels, "connection").inc()
                sent = acked  # everything not settled goes again
                unsettled.clear()

    async def _send(self, blocks: list[StoredBlock]) -> None:
        if not self.connection.usable:
            await self.connection.open()
            self.mark_ready()
        payload, events = self._encode(blocks)
        await self.connection.write(payload)
        count_sent(self, events, len(payload))
        middle = blocks[len(blocks) // 2]
        self.observe_latency(block.timestamps[i] / 1e9 for block, i in
                             ((blocks[0], blocks[0].start), (middle, len(middle.timestamps) // 2), (blocks[-1], -1)))

    def _settle(self, unsettled: deque[tuple[Position, float]], acked: Position) -> Position:
        """Acknowledge the batches that went `settle_time` on a connection that is still healthy."""
        now = time.monotonic()
        if not self.connection.usable and unsettled:
            raise TransportError("the server closed the connection after a write")
        if not self.connection.flushed:
            return acked  # bytes still on their way to the kernel: settle later
        while unsettled and unsettled[0][1] <= now:
            acked = unsettled.popleft()[0]
            self.spool.ack(self.id, acked)
        return acked

    async def _wait(self, until: float, position: Position) -> None:
        """Sleep until a batch may settle, waking early when new records arrive."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.spool.wait_for_append(position), max(0.0, until - time.monotonic()))

    async def _wait_idle(self, position: Position) -> None:
        self.idle.set()
        await self.spool.wait_for_append(position)
        self.idle.clear()

    async def _failed(self, error: TransportError, failures: int) -> None:
        await self.connection.close()
        metrics.errors.labels(*self.labels, "send", type(error).__name__).inc()
        self.note_failure("handshake" if isinstance(error, HandshakeError) else "transport", str(error))
        if isinstance(error, HandshakeError):
            self.mark_not_ready(str(error), "certificate" if isinstance(error, CertificateError) else "handshake")
        else:
            self.log.warning("%s; retrying", error)
        await asyncio.sleep(delay(failures, *BACKOFF))

    def _encode(self, blocks: list[StoredBlock]) -> tuple[bytes, int]:
        """The blocks' frames; what had to be cut or shortened is counted."""
        payload, events = self.encoder.encode(blocks)
        encoder, fmt = self.encoder, self.encoder.format
        if encoder.oversize:
            self._oversize.inc(encoder.oversize)
            encoder.oversize = 0
        for kind, count in fmt.anomalies.items():
            metrics.input_anomalies.labels(*self.labels, kind).inc(count)
        fmt.anomalies.clear()
        return payload, events

    async def close(self) -> None:
        await self.connection.close()

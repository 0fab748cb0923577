"""The `syslog` sink: RFC 5424 messages over one TLS connection, acknowledged once they have settled.

Syslog has no application acknowledgements. What one read of the spool returned is written as one
batch, in spool order; it counts as delivered when its bytes have left the transport's buffer for the
kernel and the connection has then gone `settle_time` without a close or reset from the server. Many
batches settle at once (the engine keeps up to UNSETTLED_READS in flight), each holding only its place
in the spool once written. A failure rewinds: every batch not settled is written again, in order,
on a new connection (read again from the spool). Duplicates are possible; losses only of bytes the
server took into its socket and then threw away while the connection still looked healthy for
`settle_time`.
"""

from __future__ import annotations

import asyncio
import time

from shipper.backoff import delay
from shipper.buffer.spool import Spool, StoredBlock
from shipper.observe import metrics
from shipper.sinks.base import count_sent
from shipper.sinks.batching import BatchingSink, EveryRead, Read
from shipper.sinks.syslog.config import SyslogOptions
from shipper.sinks.syslog.encoder import Encoder
from shipper.sinks.syslog.transport import CertificateError, Connection, HandshakeError, TransportError

BATCH_RECORDS = 5_000
UNSETTLED_READS = 1_000  # batches written and waiting for settle_time, at most
READ_AHEAD = 2  # batches read and not written yet, at most
SETTLE_POLL = 0.05  # seconds between looks at a batch whose bytes are still in the buffer at its deadline
BACKOFF = (0.25, 30.0)  # seconds: the first and the longest wait between connection attempts


class SyslogSink(BatchingSink[Read]):
    options: SyslogOptions

    def __init__(self, sink_id: str, options: SyslogOptions, spool: Spool):
        super().__init__(sink_id, options, spool, EveryRead(), in_flight=UNSETTLED_READS, batch_timeout=0.0,
                         read_records=BATCH_RECORDS, read_ahead=READ_AHEAD)
        self.encoder = Encoder(options)
        self.connection = Connection(self.options)
        self._oversize = metrics.input_anomalies.labels(*self.labels, f"oversize_{self.options.oversize}")
        self._line = asyncio.Lock()  # one write, or one failure being handled, at a time
        self._turns: dict[int, asyncio.Event] = {}  # batches waiting for their turn to write, by number
        self._taken = 0  # numbers given to batches, in the order the engine starts them
        self._next_write = 1  # the number of the batch whose turn it is to write on this connection
        self._unsettled: set[int] = set()
        self._connection_number = 0  # a new connection after a failure rewinds the writes
        self._failures = 0  # connection failures since a batch last settled

    def recover(self) -> None:
        super().recover()
        self._taken, self._next_write, self._unsettled, self._turns = 0, 1, set(), {}

    def holding_too_much(self) -> bool:
        """Reads wait while READ_AHEAD batches are not written yet: what waits for settle_time is only
        places in the spool, but what waits to be written holds its records."""
        unwritten = sum(number >= self._next_write for number in self._unsettled)
        return super().holding_too_much() or unwritten >= READ_AHEAD

    async def send(self, read: Read) -> None:
        self._taken += 1
        number = self._taken
        self._unsettled.add(number)
        try:
            while True:
                try:
                    connection, offset = await self._write_in_turn(number, read)
                    await self._settled(connection, offset, time.monotonic() + self.options.settle_time)
                    self._failures = 0
                    return
                except TransportError as error:
                    await self._failed(error, connection_number=self._connection_number)
        finally:
            self._unsettled.discard(number)

    async def _write_in_turn(self, number: int, read: Read) -> tuple[int, int]:
        """Write the batch once every batch before it is written on the same connection; returns that
        connection's number and the batch's end in its stream of bytes."""
        while True:
            await self._turn_of(number)
            async with self._line:
                if self._next_write != number:
                    continue  # a failure rewound the turns while this batch waited for the line
                if not self.connection.usable:
                    await self.connection.open()
                    self.mark_ready()
                await self._write(read)
                self._pass_turn(min((n for n in self._unsettled if n > number), default=self._taken + 1))
                self.made_room()
                return self._connection_number, self.connection.written

    async def _turn_of(self, number: int) -> None:
        while self._next_write != number:
            event = self._turns[number] = asyncio.Event()
            await event.wait()

    def _pass_turn(self, number: int) -> None:
        self._next_write = number
        waiting = self._turns.pop(number, None)
        if waiting is not None:
            waiting.set()

    async def _write(self, read: Read) -> None:
        blocks = read.blocks or self._read_again(read)
        read.blocks = []  # a written batch holds only its place in the spool
        payload, events = self._encode(blocks)
        await self.connection.write(payload)
        count_sent(self, events, len(payload))
        middle = blocks[len(blocks) // 2]
        self.observe_latency(block.timestamps[i] / 1e9 for block, i in
                             ((blocks[0], blocks[0].start), (middle, len(middle.timestamps) // 2), (blocks[-1], -1)))

    def _read_again(self, read: Read) -> list[StoredBlock]:
        """The batch's records, from the spool (they are not acknowledged: still there)."""
        return [block for block in self.spool.read(self.id, read.start, BATCH_RECORDS) if block.end() <= read.end]

    async def _settled(self, connection: int, offset: int, deadline: float) -> None:
        """Until the batch written on `connection`, up to `offset` of its bytes, has left for the kernel
        and gone `settle_time` on a healthy connection."""
        while True:
            if connection != self._connection_number or not self.connection.usable:
                raise TransportError("the server closed the connection after a write")
            now = time.monotonic()
            if now >= deadline and self.connection.handed_over(offset):
                return
            await asyncio.sleep(max(0.0, deadline - now) or SETTLE_POLL)

    async def _failed(self, error: TransportError, connection_number: int) -> None:
        """The first batch to see a connection fail closes it and waits; every batch not settled is then
        written again in order, from the oldest."""
        async with self._line:
            if connection_number != self._connection_number:
                return  # another batch saw this failure first
            self._connection_number += 1
            self._failures += 1
            await self.connection.close()
            metrics.errors.labels(*self.labels, "send", type(error).__name__).inc()
            metrics.retries.labels(*self.labels, "connection").inc()
            self.note_failure("handshake" if isinstance(error, HandshakeError) else "transport", str(error))
            if isinstance(error, HandshakeError):
                code = "certificate" if isinstance(error, CertificateError) else "handshake"
                self.mark_not_ready(str(error), code)
            else:
                self.log.warning("%s; retrying", error)
            await asyncio.sleep(delay(self._failures, *BACKOFF))
            self._pass_turn(min(self._unsettled, default=self._taken + 1))

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
        await super().close()
        await self.connection.close()

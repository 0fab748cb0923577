"""The `s3` sink: records leave the spool as objects in an S3 bucket.

Flow: the delivery engine (sinks/engine.py) reads segments of the spool; `route` puts each record into
the object its partition is gathering (gather.py: the fields `key` names); an object closed (full,
old, drained) is named (key.py), recorded in the ledger (objects.py), and uploaded: one PutObject, or a
multipart upload above `multipart_threshold`; up to `max_requests_in_flight` objects at once over all
partitions.

Guarantees:
- A record is acknowledged only once the object holding it was stored (PutObject or
  CompleteMultipartUpload answered), and the cursor passes it only once every object holding earlier
  records was too: a crash loses nothing.
- A crash duplicates nothing: the ledger row of every object whose upload began is kept until its last
  record is acknowledged; after a restart the same records are cut into the same objects under the
  keys their rows recorded, landed ones are skipped and the others replace whatever part of them landed. The
  multipart uploads an earlier run left for those keys are aborted first.
- Every failure is retried forever with the agent's backoff, the records waiting in the spool. A
  missing bucket, access denied, a KMS key S3 cannot use, a request S3 refuses as invalid (a storage
  class or tag it refuses) or refused credentials make the sink not ready until an operator acts;
  nothing is discarded for them.
- Memory: objects not yet stored hold at most 2 x max_object_bytes (as held: compressed for gzip);
  past that the largest object being gathered goes early, and the reader waits. At most
  MAX_GATHERING objects are gathered at once (the oldest goes early), and a partition with nothing
  left is forgotten.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TypeVar

from shipper.backoff import delay
from shipper.buffer.spool import Position, Spool, StoredBlock
from shipper.observe import metrics
from shipper.sinks.aws.errors import S3, error_code
from shipper.sinks.base import count_sent
from shipper.sinks.encoding import encoded
from shipper.sinks.engine import Acks, DeliverySink, clock
from shipper.sinks.retry import BACKOFF_BASE, BACKOFF_MAX, Failure, Retry, classify, retrying
from shipper.sinks.s3.config import S3Options
from shipper.sinks.s3.gather import Gatherer, ObjectQueue
from shipper.sinks.s3.key import ObjectKeys, Partition
from shipper.sinks.s3.objects import ROW_PREFIX, ObjectRow, S3Object
from shipper.sinks.s3.service import S3Api

READ_RECORDS = 10_000  # records per spool read (one segment)
MAX_GATHERING = 256  # objects gathered at once (a gzip stream holds ~256 KiB): past it the oldest goes early
T = TypeVar("T")


class UploadGone(Exception):
    """The multipart upload was aborted under us (a lifecycle rule): start the object's upload again."""


class S3Sink(DeliverySink[ObjectQueue, S3Object]):
    options: S3Options

    def __init__(self, sink_id: str, options: S3Options, spool: Spool):
        super().__init__(sink_id, options, spool, batch_timeout=options.max_object_age,
                         per_partition=options.max_requests_in_flight, read_records=READ_RECORDS)
        self.api = S3Api(sink_id, options, options.max_requests_in_flight + 2)
        self.keys = ObjectKeys(options.key, options.layout, uuid.uuid4())
        self.queues: dict[Partition, ObjectQueue] = {}
        level = options.compression_level if options.compression == "gzip" else None
        self.gatherer = Gatherer(options.max_object_bytes, level, clock)
        self.max_held = 2 * options.max_object_bytes
        self._sending = 0  # objects taken to be sent and not yet delivered
        self._uploads = asyncio.Semaphore(options.max_requests_in_flight)
        self._encoding = "json" if options.encoding == "ndjson" else "text"
        self._fallbacks = metrics.events_fallback_named.labels(*self.labels)

    async def open(self) -> None:
        await self.api.open()

    async def close(self) -> None:
        await self.api.close()

    # -- what goes where ----------------------------------------------------------------------------

    def route(self, blocks: list[StoredBlock], end: Position) -> Iterable[ObjectQueue]:
        segment = self.acks.open(end)
        touched: set[ObjectQueue] = set()
        routed, mismatched = 0, self.gatherer.mismatched
        for block in blocks:
            lines = encoded(block, self._encoding, self.options.layout)
            unencodable = lines.count(None)
            if unencodable:
                metrics.events_discarded.labels(*self.labels, "unencodable").inc(unencodable)
                self.log.error("%d record(s) cannot be encoded as JSON; discarded", unencodable)
            for partition, start, stop in _runs(self.keys.of_block(block), len(lines)):
                queue = self._queue(partition)
                self.gatherer.gather(queue, block, lines, start, stop, segment)
                touched.add(queue)
            routed += len(lines)
        for queue in self.queues.values():
            if queue.recovered or (queue.open is not None and queue.open.row is not None):
                self.gatherer.passed(queue, end)
                touched.add(queue)
        if self.gatherer.mismatched > mismatched:
            self.log.warning("%d object(s) recorded before the last stop no longer match their records (the key "
                             "changed since?): their records go into new objects, and may arrive a second time",
                             self.gatherer.mismatched - mismatched)
        self.acks.seal(segment, routed)
        self._bound_the_partitions()
        if self.keys.fallbacks:
            self._fallbacks.inc(self.keys.fallbacks)
            self.keys.fallbacks = 0
        return touched

    def _queue(self, partition: Partition) -> ObjectQueue:
        queue = self.queues.get(partition)
        if queue is None:
            queue = self.queues[partition] = ObjectQueue(partition)
        return queue

    def partitions(self) -> Iterable[ObjectQueue]:
        return self.queues.values()

    def holding_too_much(self) -> bool:
        """Past twice max_object_bytes held, the reader waits for uploads to finish, the largest object
        going early if none is waiting to leave. Objects recorded before a restart are never cut early:
        when only they hold the memory, the reader goes on to read the rest of their records."""
        if self.gatherer.held < self.max_held:
            return False
        if self._sending or any(queue.closed for queue in self.queues.values()):
            return True
        largest = self.gatherer.close_largest(list(self.queues.values()))
        if largest is None:
            return False
        self._send_now(largest)
        return True

    def _send_now(self, queue: ObjectQueue) -> None:
        self._start(queue)
        queue.wake.set()

    def _bound_the_partitions(self) -> None:
        """At most MAX_GATHERING objects gathered at once (the oldest goes early), and partitions with
        nothing left are forgotten, so a key naming pods keeps no state for pods long gone."""
        gathering = [q for q in self.queues.values() if q.open is not None and q.open.row is None]
        if len(gathering) > MAX_GATHERING:
            for queue in sorted(gathering, key=lambda q: q.since or 0.0)[:len(gathering) - MAX_GATHERING]:
                self.gatherer.close_due(queue)
                self._send_now(queue)
        if len(self.queues) > 2 * MAX_GATHERING:
            for partition, queue in list(self.queues.items()):
                if (queue.open is None and not queue.closed and not queue.recovered
                        and (queue.task is None or queue.task.done())):
                    del self.queues[partition]

    def next_batch(self, queue: ObjectQueue) -> tuple[S3Object, Acks] | None:
        if not queue.closed:
            self.gatherer.close_due(queue)  # the engine asks only when it is due: old enough, or draining
        if not queue.closed:
            return None
        gathered = queue.closed.popleft()
        self._sending += 1
        return gathered, gathered.acks

    def delivered(self, gathered: S3Object) -> None:
        self._sending -= 1
        self.gatherer.held -= gathered.held
        gathered.release()

    # -- delivery -----------------------------------------------------------------------------------

    async def deliver(self, queue: ObjectQueue, gathered: S3Object) -> None:
        row = gathered.row
        if row is None:
            row = gathered.row = gathered.row_for(self.keys.key(gathered.partition, *self._first(gathered)))
            self._record(row)
            self.acks.forget_when_acked(row.last.block, row.last.index, row.state_key)
        elif row.landed:
            self.log.info("object %s landed before the last stop; not sent again", row.key)
            return
        else:
            await self._abort_earlier_uploads(row)
        async with self._uploads:
            await self._upload(row, gathered)
        count_sent(self, gathered.lines, gathered.raw)
        self.observe_latency((gathered.first_time / 1e9, gathered.last_time / 1e9))
        row.landed = True
        if not self.acks.forgotten(row.state_key):
            self._record(row)

    @staticmethod
    def _first(gathered: S3Object) -> tuple[Position, int]:
        assert gathered.first is not None
        return gathered.first, gathered.first_time

    def _record(self, row: ObjectRow) -> None:
        self.spool.save_sink_state(self.id, row.state_key, row.encode())

    async def _upload(self, row: ObjectRow, gathered: S3Object) -> None:
        if gathered.size <= self.options.multipart_threshold:
            body = b"".join(gathered.pieces(max(1, gathered.size)))
            await self._call("PutObject", partial(self.api.put_object, row.key, body))
            return
        for attempt in itertools.count(1):
            try:
                await self._multipart(row, gathered)
                return
            except UploadGone:
                wait = delay(attempt, BACKOFF_BASE, BACKOFF_MAX)
                self.log.warning("the multipart upload of %s was aborted by someone else; starting it again in "
                                 "%.1fs", row.key, wait)
                await asyncio.sleep(wait)

    async def _multipart(self, row: ObjectRow, gathered: S3Object) -> None:
        upload_id = await self._call("CreateMultipartUpload", partial(self.api.create_upload, row.key))
        etags = []
        for number, part in enumerate(gathered.pieces(self.options.multipart_part_size), 1):
            etags.append(await self._call("UploadPart", partial(self.api.upload_part, row.key, upload_id, number, part),
                                          upload_gone=True))
        await self._call("CompleteMultipartUpload", partial(self.api.complete_upload, row.key, upload_id, etags),
                         upload_gone=True)

    async def _abort_earlier_uploads(self, row: ObjectRow) -> None:
        """Multipart uploads of the key left by a run that stopped during one: found by the key alone,
        which the row names before any upload starts."""
        uploads = await self._call("ListMultipartUploads", partial(self.api.uploads_of, row.key))
        for upload_id in uploads:
            await self._call("AbortMultipartUpload", partial(self.api.abort_upload, row.key, upload_id),
                             upload_gone=True)
        if uploads:
            self.log.info("aborted %d multipart upload(s) of %s left by the last run", len(uploads), row.key)

    async def _call(self, operation: str, make: Callable[[], Awaitable[T]], upload_gone: bool = False) -> T:
        """One call, retried until it is answered; every refusal retried too, the sink not ready meanwhile."""
        async for attempt in retrying(self._retried):
            with attempt:
                try:
                    result = await make()
                except Exception as error:  # the SDK's errors are many; classify raises what it does not know
                    if upload_gone and error_code(error) == "NoSuchUpload":
                        if operation == "AbortMultipartUpload":
                            return None  # type: ignore[return-value]  # gone already: what abort wanted
                        raise UploadGone from error
                    raise self._failed(operation, classify(error, S3), error) from error
                self.mark_ready()
                return result
        raise AssertionError("retrying never stops")

    def _failed(self, operation: str, failure: Failure, error: BaseException) -> Retry:
        metrics.errors.labels(*self.labels, "send", error_code(error)).inc()
        return Retry.for_aws_call(failure, error, f"{operation} to bucket {self.options.bucket}")

    def _retried(self, retry: Retry, wait: float) -> None:
        self.retried(retry.reason, retry.not_ready_pair, wait, retry.reason, f"S3 bucket {self.options.bucket}")

    # -- restart ------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Load the ledger rows of objects cut before the last stop: their records are cut the same way."""
        rows = sorted((ObjectRow.decode(value) for key, value in self.spool.sink_state(self.id).items()
                       if key.startswith(ROW_PREFIX)), key=lambda row: row.first)
        for row in rows:
            self._queue(row.partition).recovered.append(row)
            self.acks.forget_when_acked(row.last.block, row.last.index, row.state_key)
        if rows:
            self.log.info("%d object(s) were being sent or not yet acknowledged at the last stop; cutting their "
                          "records the same way again", len(rows))

    def stopped(self) -> None:
        self.queues.clear()
        self.gatherer.held = self._sending = 0


def _runs(partitions: list[Partition] | Partition, count: int) -> Iterable[tuple[Partition, int, int]]:
    """(partition, start, stop) of each run of consecutive records of one partition."""
    if isinstance(partitions, tuple):
        yield partitions, 0, count
        return
    start = 0
    for index in range(1, count + 1):
        if index == count or partitions[index] != partitions[start]:
            yield partitions[start], start, index
            start = index

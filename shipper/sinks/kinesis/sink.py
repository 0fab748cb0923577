"""The `firehose` and `kinesis_streams` sinks: batches of stream records, up to
`max_requests_in_flight` calls at once.

Guarantees:
- A batch is acknowledged to the spool once every one of its records was taken, and the cursor only
  moves past it when every batch before it was too (batching.py): a crash sends again the batches
  that were in flight, and nothing else.
- Records refused within a call (partial failure, the rule with these APIs) are sent again alone, in
  their order: a record taken is never sent twice for a partial failure. Only a call whose answer was
  lost (a reset or a timeout after sending) is sent again whole (counted: `ambiguous`).
- Throttling, 5xx and no connection are retried forever with full jitter; access denied, a missing
  stream, an unusable KMS key or bad credentials make the sink not ready and are retried too (the
  records wait in the spool). A request refused as invalid is halved down to the record refused,
  which alone is discarded and counted (`shipper_events_discarded_total{reason="invalid"}`).
"""

from __future__ import annotations

from typing import ClassVar

from shipper.buffer.spool import Spool
from shipper.observe import metrics
from shipper.sinks.aws.errors import RECORD_RETRIED, RECORD_STREAMS, error_code
from shipper.sinks.base import count_sent
from shipper.sinks.batching import BatchingSink
from shipper.sinks.kinesis.config import FirehoseOptions, KinesisStreamsOptions, RecordsOptions
from shipper.sinks.kinesis.request import FIREHOSE, KINESIS_STREAMS, Batch, Limits, PartitionKeys, RecordBuilder
from shipper.sinks.kinesis.service import FirehoseApi, KinesisStreamsApi, RecordsApi
from shipper.sinks.retry import Failure, Refused, Retry, classify, retrying, send_halving

READ_RECORDS = 5000  # log records read from the spool at a time


class RecordsSink(BatchingSink[Batch]):
    options: RecordsOptions
    limits: ClassVar[Limits]

    def __init__(self, sink_id: str, options: RecordsOptions, spool: Spool, api: RecordsApi,
                 keys: PartitionKeys | None, in_flight: int):
        builder = RecordBuilder(self.limits, options.encoding, options.pack, options.compression, keys, options.layout)
        super().__init__(sink_id, options, spool, builder, in_flight=in_flight, batch_timeout=options.batch_timeout,
                         read_records=READ_RECORDS)
        self.api = api
        self.keys = keys
        self._split = metrics.input_anomalies.labels(*self.labels, "oversize_split")
        self._fallbacks = metrics.events_fallback_named.labels(*self.labels)

    async def open(self) -> None:
        await self.api.open()

    async def close(self) -> None:
        await super().close()
        await self.api.close()

    async def send(self, batch: Batch) -> None:
        if batch.unencodable:
            self.discard(batch.unencodable, "unencodable", "%d record(s) cannot be encoded as JSON; discarded")
        if batch.split:
            self._split.inc(batch.split)
            batch.split = 0
        if self.keys is not None and self.keys.fallbacks:
            self._fallbacks.inc(self.keys.fallbacks)
            self.keys.fallbacks = 0
        if batch.records:
            await send_halving(batch, self._send, _halves, self._halved, self._refused_alone)

    async def _send(self, batch: Batch) -> None:
        """Until every record of `batch` is taken: those refused go again, alone, in their order.
        Refused: the call itself is refused as invalid."""
        pending = batch
        async for attempt in retrying(self._retried):
            with attempt:
                try:
                    errors = await self.api.put(pending)
                except Exception as error:  # the SDK's errors are many; classify raises what it does not know
                    failure = classify(error, RECORD_STREAMS)
                    if failure is Failure.INVALID:
                        raise Refused("invalid", f"{error_code(error)}: {error}") from error
                    raise self._whole_call_failed(failure, error) from error
                pending = self._taken_apart(pending, errors)
                if pending.records:
                    raise self._records_refused(errors)
        self.mark_ready()

    def _taken_apart(self, batch: Batch, errors: list[str | None]) -> Batch:
        """Count what was taken; the records refused, still to send."""
        refused = [index for index, code in enumerate(errors) if code is not None]
        taken_events = sum(batch.events) - sum(batch.events[i] for i in refused)
        taken_bytes = batch.size - sum(batch.sizes[i] for i in refused)
        count_sent(self, taken_events, taken_bytes)
        if not refused:
            self.observe_latency((batch.first_time, batch.last_time))
        return batch.subset(refused)

    def _records_refused(self, errors: list[str | None]) -> Retry:
        codes = [code for code in errors if code is not None]
        for code in set(codes):
            metrics.records_retried.labels(*self.labels, code).inc(codes.count(code))
        unusual = sorted({code for code in codes if code not in RECORD_RETRIED})
        not_ready = f"records refused with {', '.join(unusual)}" if unusual else None
        return Retry(codes[0] if len(set(codes)) == 1 else "records_refused", not_ready=not_ready)

    def _whole_call_failed(self, failure: Failure, error: BaseException) -> Retry:
        metrics.errors.labels(*self.labels, "send", error_code(error)).inc()
        return Retry.for_aws_call(failure, error, f"{self.api.operation} on {self.api.stream}")

    def _halved(self, refusal: Refused) -> None:
        metrics.retries.labels(*self.labels, refusal.reason).inc()

    def _refused_alone(self, batch: Batch, refusal: Refused) -> None:
        self.discard(sum(batch.events) or 1, refusal.reason,
                     f"{self.api.operation} refused %d record(s) as invalid ({refusal.detail}); "
                     "discarded (sent again, it would be refused again)")

    def _retried(self, retry: Retry, wait: float) -> None:
        where = f"{self.api.operation} on {self.api.stream}"
        self.retried(retry.reason, retry.not_ready_pair, wait, retry.reason, where)


def _halves(batch: Batch) -> tuple[Batch, Batch] | None:
    count = len(batch.records)
    if count < 2:
        return None
    middle = count // 2
    return batch.subset(list(range(middle))), batch.subset(list(range(middle, count)))


class FirehoseSink(RecordsSink):
    options: FirehoseOptions
    limits = FIREHOSE

    def __init__(self, sink_id: str, options: FirehoseOptions, spool: Spool):
        in_flight = options.max_requests_in_flight
        super().__init__(sink_id, options, spool, FirehoseApi(sink_id, options, in_flight + 2), None, in_flight)


class KinesisStreamsSink(RecordsSink):
    options: KinesisStreamsOptions
    limits = KINESIS_STREAMS

    def __init__(self, sink_id: str, options: KinesisStreamsOptions, spool: Spool):
        in_flight = options.max_requests_in_flight
        super().__init__(sink_id, options, spool, KinesisStreamsApi(sink_id, options, in_flight + 2),
                         PartitionKeys(options.partition_key, options.layout), in_flight)

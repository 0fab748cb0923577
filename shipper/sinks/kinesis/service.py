"""The two APIs: one call carrying a batch of stream records, and what became of each record.

The body is built here (base64 data, joined once) and handed to botocore in place of the one it would
serialize (sinks/aws/client.py). Partial failure is the rule with these APIs: a call that succeeds
can still refuse some records (`FailedPutCount`, `FailedRecordCount`); `put` returns each record's
error code, None for a record taken.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import orjson

from shipper.sinks.aws.client import PREPARED_BODY, AwsClient
from shipper.sinks.kinesis.config import FirehoseOptions, KinesisStreamsOptions
from shipper.sinks.kinesis.request import Batch

MALFORMED = "MalformedResponse"  # our code for an answer that does not say what became of each record


class RecordsApi(AwsClient):
    operation: ClassVar[str]
    stream_parameter: ClassVar[str]  # the request's member naming the stream
    answers_member: ClassVar[str]  # the response's list of per-record answers
    failed_member: ClassVar[str]  # the response's count of refused records

    @property
    def stream(self) -> str:
        raise NotImplementedError

    async def put(self, batch: Batch) -> list[str | None]:
        """Send the batch in one call; each record's error code (None: taken). Errors of the whole call
        are raised as the SDK's."""
        response = await self.call(self.operation, **{self.stream_parameter: self.stream, "Records": [],
                                                      PREPARED_BODY: self.body(batch)})
        return self._errors(response, len(batch.records))

    def body(self, batch: Batch) -> bytes:
        entries = [b'{"Data":"' + base64.b64encode(record) + b'"}' for record in batch.records]
        return self._envelope(entries)

    def _envelope(self, entries: list[bytes]) -> bytes:
        return (b'{"' + self.stream_parameter.encode() + b'":' + orjson.dumps(self.stream) + b',"Records":['
                + b",".join(entries) + b"]}")

    def _errors(self, response: dict[str, Any], count: int) -> list[str | None]:
        answers = response.get(self.answers_member) or []
        failed = response.get(self.failed_member) or 0
        if len(answers) != count:
            return [None] * count if failed == 0 else [MALFORMED] * count
        return [answer.get("ErrorCode") or None for answer in answers]


class FirehoseApi(RecordsApi):
    service = "firehose"
    operation = "PutRecordBatch"
    prepared = ("PutRecordBatch",)
    stream_parameter = "DeliveryStreamName"
    answers_member = "RequestResponses"
    failed_member = "FailedPutCount"
    options: FirehoseOptions

    @property
    def stream(self) -> str:
        return self.options.delivery_stream


class KinesisStreamsApi(RecordsApi):
    service = "kinesis"
    operation = "PutRecords"
    prepared = ("PutRecords",)
    stream_parameter = "StreamName"
    answers_member = "Records"
    failed_member = "FailedRecordCount"
    options: KinesisStreamsOptions

    @property
    def stream(self) -> str:
        return self.options.stream_name

    def body(self, batch: Batch) -> bytes:
        entries = [b'{"Data":"' + base64.b64encode(record) + b'","PartitionKey":' + orjson.dumps(key) + b"}"
                   for record, key in zip(batch.records, batch.keys, strict=True)]
        return self._envelope(entries)

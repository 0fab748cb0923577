"""The two APIs: one call carrying a batch of stream records, and what became of each record.

The body is built here (base64 data, joined once) and handed to botocore in place of the one it would
serialize (sinks/aws/client.py). pybase64 encodes with the CPU's vector instructions: the standard
library's binascii takes 1.8 ns a byte (0.8 us for a 475-byte JSON line), pybase64 under 0.03.
Partial failure is the rule with these APIs: a call that succeeds can still refuse some records
(`FailedPutCount`, `FailedRecordCount`); `put` returns each record's error code, None for a record
taken.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
import pybase64

from shipper.sinks.aws.client import PREPARED_BODY, AwsClient
from shipper.sinks.kinesis.config import FirehoseOptions, KinesisStreamsOptions
from shipper.sinks.kinesis.request import Batch

MALFORMED = "MalformedResponse"  # our code for an answer that does not say what became of each record
_ERRORS = "shipperRecordErrors"  # our key in the parsed response: each record's error code, read with orjson


class RecordsApi(AwsClient):
    operation: ClassVar[str]
    stream_parameter: ClassVar[str]  # the request's member naming the stream
    answers_member: ClassVar[str]  # the response's list of per-record answers
    failed_member: ClassVar[str]  # the response's count of refused records

    @property
    def stream(self) -> str:
        raise NotImplementedError

    async def open(self) -> None:
        await super().open()
        name = self._client.meta.service_model.service_id.hyphenize()
        self._client.meta.events.register(f"before-parse.{name}.{self.operation}", self._read_answers)

    def _read_answers(self, response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                      **_: Any) -> None:
        """Each record's answer read with orjson, and a body emptied of them for botocore: its parser
        would walk 500 answers a call in Python (most of the sink's CPU otherwise)."""
        if response_dict.get("status_code") != 200:
            return
        try:
            answer = orjson.loads(response_dict["body"])
        except (orjson.JSONDecodeError, TypeError):
            return
        answers = answer.get(self.answers_member)
        if not isinstance(answers, list):
            return
        customized_response_dict[_ERRORS] = [entry.get("ErrorCode") or None if isinstance(entry, dict) else MALFORMED
                                             for entry in answers]
        customized_response_dict[self.failed_member] = answer.get(self.failed_member) or 0
        response_dict["body"] = b"{}"

    async def put(self, batch: Batch) -> list[str | None]:
        """Send the batch in one call; each record's error code (None: taken). Errors of the whole call
        are raised as the SDK's."""
        response = await self.call(self.operation, **{self.stream_parameter: self.stream, "Records": [],
                                                      PREPARED_BODY: self.body(batch)})
        return self._errors(response, len(batch.records))

    def body(self, batch: Batch) -> bytes:
        entries = [b'{"Data":"' + pybase64.b64encode(record) + b'"}' for record in batch.records]
        return self._envelope(entries)

    def _envelope(self, entries: list[bytes]) -> bytes:
        return (b'{"' + self.stream_parameter.encode() + b'":' + orjson.dumps(self.stream) + b',"Records":['
                + b",".join(entries) + b"]}")

    def _errors(self, response: dict[str, Any], count: int) -> list[str | None]:
        errors: list[str | None] | None = response.get(_ERRORS)
        if errors is None:  # not read ahead of botocore (a client without the hook): its own parse
            errors = [answer.get("ErrorCode") or None for answer in response.get(self.answers_member) or []]
        failed = response.get(self.failed_member) or 0
        if len(errors) != count:
            return [None] * count if failed == 0 else [MALFORMED] * count
        return errors


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
        entries = [b'{"Data":"' + pybase64.b64encode(record) + b'","PartitionKey":' + orjson.dumps(key) + b"}"
                   for record, key in zip(batch.records, batch.keys, strict=True)]
        return self._envelope(entries)

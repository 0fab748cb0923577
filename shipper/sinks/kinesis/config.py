"""Options of the `firehose` and `kinesis_streams` sinks (one folder: they share everything but the
API they call and the partition key)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from shipper.config.units import Duration
from shipper.sinks.aws.config import AwsOptions
from shipper.templates import Template

_NAME = re.compile(r"[a-zA-Z0-9_.-]+")


def _checked_name(value: str, most: int) -> str:
    if not 1 <= len(value) <= most or not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a stream name (1-{most} letters, digits, '_', '.', '-')")
    return value


class RecordsOptions(AwsOptions):
    encoding: Literal["json", "text"] = Field(
        "json", description="`json`: each log record as a JSON object with every field; `text`: the message alone. "
        "Either way one per line (newline-delimited)."
    )
    pack: bool = Field(
        False, description="Pack several log records, one per line, into each stream record up to the record size "
        "limit, instead of one log record per stream record: far fewer records (Firehose bills per record rounded "
        "up to 5 KB; Kinesis per 25 KB PUT payload unit). Consumers must split records at newlines."
    )
    compression: Literal["none", "gzip"] = Field(
        "none", description="`gzip` compresses each stream record (worth it with `pack`); records stay within the "
        "size limit after compression."
    )
    batch_timeout: Duration = Field(1.0, gt=0, description="Longest a log record waits for its batch to fill.")


class FirehoseOptions(RecordsOptions):
    """Amazon Data Firehose: PutRecordBatch (up to 500 records, 4 MiB) to a Direct PUT delivery stream."""

    type: Literal["firehose"]
    delivery_stream: str = Field(description="Name of the Firehose stream (Direct PUT), e.g. `node-logs`.")
    max_requests_in_flight: int = Field(
        4, ge=1, le=64, description="PutRecordBatch calls sent before the earlier ones are answered; the spool is "
        "still acknowledged in order. Firehose keeps no order between records anyway.",
    )

    @field_validator("delivery_stream")
    @classmethod
    def _name(cls, value: str) -> str:
        return _checked_name(value, 64)


class KinesisStreamsOptions(RecordsOptions):
    """Amazon Kinesis Data Streams: PutRecords (up to 500 records, 5 MiB) with a partition key per record."""

    type: Literal["kinesis_streams"]
    stream_name: str = Field(description="Name of the Kinesis data stream, e.g. `node-logs`.")
    partition_key: str | None = Field(
        None, description="Template of each record's partition key, e.g. `{kubernetes.pod_name}`: a pod's records "
        "then go to one shard, in order (keep `max_requests_in_flight: 1`). Default: a random key per stream "
        "record, which spreads the load over every shard and promises no order. A record lacking a field the "
        "template names gets a random key (counted in `shipper_events_fallback_named_total`); keys are cut to "
        "256 characters.",
    )
    max_requests_in_flight: int = Field(
        1, ge=1, le=64, description="PutRecords calls sent before the earlier ones are answered; the spool is still "
        "acknowledged in order. More than 1 lets records of one key arrive out of order.",
    )

    @field_validator("stream_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _checked_name(value, 128)

    @field_validator("partition_key")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            Template(value)  # raises ValueError naming the problem
            if not value:
                raise ValueError("must not be empty")
        return value

    def templates(self) -> dict[str, Template]:
        return {"partition_key": Template(self.partition_key, self.layout)} if self.partition_key else {}

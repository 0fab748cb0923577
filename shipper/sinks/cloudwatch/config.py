"""Options of the `cloudwatch_logs` sink."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipper.config.units import ByteSize, Duration
from shipper.sinks.aws.config import AwsOptions
from shipper.sinks.cloudwatch import naming
from shipper.sinks.cloudwatch.entity import EntityOptions
from shipper.templates import Template

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
EVENT_OVERHEAD = 26  # bytes CloudWatch adds to every event when it counts a batch
MAX_EVENT_SIZE = 1024 * 1024


class CloudWatchLogsOptions(AwsOptions):
    type: Literal["cloudwatch_logs"]
    group_name: str = Field(description="Log group name; a template such as /eks/{kubernetes.namespace}.")
    stream_name: str = Field(description="Log stream name; a template such as {kubernetes.pod_name}.")
    fallback_group_name: str = Field(
        "/shipper/unrouted", description="Group for records that lack a field the group template names (counted)."
    )
    fallback_stream_name: str = Field(
        "unrouted", description="Stream for records that lack a field the stream template names (counted)."
    )
    create_missing_group: bool = Field(False, description="Create log groups that do not exist.")
    create_missing_stream: bool = Field(True, description="Create log streams that do not exist.")
    retention_days: int | None = Field(None, description="Retention applied to the groups this sink creates.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags given to the groups this sink creates.")
    log_group_class: Literal["STANDARD", "INFREQUENT_ACCESS"] | None = Field(
        None, description="Class of the groups this sink creates (CloudWatch's default: `STANDARD`). "
        "`INFREQUENT_ACCESS` costs about half per GB ingested but has no metric filters, subscription filters "
        "or Live Tail. Fixed at creation: an existing group keeps its class, and the agent warns once per group "
        "when it differs (with logs:DescribeLogGroups, iam/policy-describe.json).",
    )
    kms_key_id: str | None = Field(
        None, description="ARN of the KMS key that encrypts the groups this sink creates; the key's policy must "
        "allow the CloudWatch Logs service principal. Fixed at creation.",
    )
    deletion_protection: bool = Field(
        False, description="Create groups with deletion protection (they cannot be deleted until it is turned off).",
    )
    entity: EntityOptions | None = Field(
        None, description="The entity sent with each PutLogEvents call (see below), linking the logs to the metrics "
        "and traces of the same service in CloudWatch; `{preset: kubernetes}` for EKS. A rejected entity is counted "
        "(`shipper_cloudwatch_entities_rejected_total`), the events are stored all the same.",
    )
    encoding: Literal["text", "json"] = Field(
        "text", description="`text`: the log line as the event message; `json`: an object with every field."
    )
    max_event_size: ByteSize = Field(
        MAX_EVENT_SIZE, ge=1024, le=MAX_EVENT_SIZE,
        description="Largest event (message bytes + 26; CloudWatch's limit, 1 MiB since 2025); longer messages "
        "are split into ordered parts.",
    )
    batch_timeout: Duration = Field(1.0, gt=0, description="Longest a record waits for its batch to fill.")
    max_requests_in_flight: int = Field(16, ge=1, le=256, description="Requests in flight over all streams.")
    max_requests_per_stream: int = Field(
        1, ge=1, le=16, description="Requests in flight for one stream. 1 keeps a stream's events in the order they "
        "were read; more lets a stream that alone fills batches go faster, and its order then rests on the events' "
        "timestamps (CloudWatch needs no sequence tokens, and sorts a stream by time when it is read).",
    )
    parked_max_size: ByteSize | None = Field(
        None, ge=1024 * 1024,
        description="Most bytes of records of parked streams (refused by CloudWatch while others deliver) kept "
        "aside in the spool; beyond it the oldest are discarded and counted as `parked_overflow`. "
        "Default: a quarter of buffer.max_size.",
    )

    def templates(self) -> dict[str, Template]:
        named = {"group_name": Template(self.group_name, self.layout),
                 "stream_name": Template(self.stream_name, self.layout)}
        return {**named, **(self.entity.templates() if self.entity else {})}

    reconcile: bool = Field(
        True, description="After a crash or a lost response, read the stream back (GetLogEvents) before sending a "
        "batch that may have landed, so it is not sent twice. Needs iam/policy-reconcile.json; without it (or "
        "false) such a batch is sent again: at least once, counted.",
    )
    @field_validator("group_name", "stream_name")
    @classmethod
    def _template(cls, value: str) -> str:
        Template(value)  # raises ValueError naming the problem
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("fallback_group_name")
    @classmethod
    def _group(cls, value: str) -> str:
        return naming.check_group_name(value)

    @field_validator("fallback_stream_name")
    @classmethod
    def _stream(cls, value: str) -> str:
        return naming.check_stream_name(value)

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int | None) -> int | None:
        if value is not None and value not in RETENTION_DAYS:
            raise ValueError(f"{value} is not one of {', '.join(map(str, RETENTION_DAYS))}")
        return value

"""Options of the `opentelemetry` sink: records sent to an OTLP/HTTP receiver (the OpenTelemetry
Collector, or any backend that takes OTLP) as logs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipper.config.http_client import HttpClientOptions, checked_base_uri
from shipper.config.units import ByteSize, Duration, FieldPath

LOGS_PATH = "/v1/logs"


class OpenTelemetryOptions(HttpClientOptions):
    """Records as OTLP log records, in batches; a batch is acknowledged to the spool once the receiver
    answered 2xx (a partial success counts the records it rejected)."""

    type: Literal["opentelemetry"]
    endpoint: str = Field(description="The receiver's base URL, `https://collector.example:4318`: requests go to "
                          f"its `{LOGS_PATH}`, as OTEL_EXPORTER_OTLP_ENDPOINT works.")
    encoding: Literal["protobuf", "json"] = Field("protobuf", description="`protobuf` (application/x-protobuf, "
                                                  "what every receiver takes) or `json` (OTLP/JSON).")
    resource_attributes: dict[str, str] = Field(
        default_factory=dict, description="Resource attributes set on every record's resource, over the ones made "
        "from its metadata, e.g. `{service.name: checkout, deployment.environment.name: prod}`.")
    severity_field: FieldPath | None = Field(
        None, description="A field holding each record's severity: a syslog number 0-7 or a level name in any case "
        "(trace, debug, info, notice, warn, error, crit, alert, fatal, emerg...). Without it, the record's "
        "`severity` field (journald's PRIORITY, a parsed syslog line's) is read; a record without one is sent "
        "with severity UNSPECIFIED.")
    max_batch_bytes: ByteSize = Field(
        1024 * 1024, ge=1024, description="Largest request body before compression; a record alone larger is "
        "sent alone.")
    max_batch_events: int = Field(1000, ge=1, le=100_000, description="Most records per request.")
    batch_timeout: Duration = Field(
        1.0, gt=0, description="Longest a record waits for its batch to fill before the batch is sent anyway.")

    @field_validator("layout")
    @classmethod
    def _layout(cls, value: str) -> str:
        if value not in ("shipper", "otel"):
            raise ValueError("the opentelemetry sink always writes OpenTelemetry's names (the otel layout): "
                             "leave `layout` out")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return checked_base_uri(value)

    @property
    def request_uri(self) -> str:
        return self.endpoint.rstrip("/") + LOGS_PATH

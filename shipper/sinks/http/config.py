"""Options of the `http` sink: batches of records POSTed to a collector."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipper.config.http_client import HttpClientOptions, checked_uri
from shipper.config.units import ByteSize, Duration


class HttpOptions(HttpClientOptions):
    """Records POSTed in batches; a batch is acknowledged to the spool once the server answered 2xx."""

    type: Literal["http"]
    uri: str = Field(description="Where to send, `https://collector.example:8443/logs` (http:// only when you mean "
                     "plain text). Credentials in the URI are refused: use `auth`.")
    method: Literal["post", "put"] = Field("post", description="HTTP method of every request.")
    encoding: Literal["ndjson", "json_array", "text"] = Field(
        "ndjson", description="`ndjson`: one JSON object per record and line; `json_array`: one JSON array of "
        "objects; `text`: the messages alone, one per line."
    )
    max_batch_bytes: ByteSize = Field(
        1024 * 1024, ge=1024, description="Largest request body before compression; a record alone larger is "
        "sent alone."
    )
    max_batch_events: int = Field(1000, ge=1, le=100_000, description="Most records per request.")
    batch_timeout: Duration = Field(
        1.0, gt=0, description="Longest a record waits for its batch to fill before the batch is sent anyway."
    )

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        return checked_uri(value)

    @property
    def request_uri(self) -> str:
        return self.uri

"""Options every AWS sink shares: where the API is, and how long a call may take."""

from __future__ import annotations

import os
import urllib.parse

from pydantic import Field, field_validator, model_validator

from shipper.config.base import SinkOptions
from shipper.config.units import Duration, is_loopback


class AwsOptions(SinkOptions):
    region: str | None = Field(None, description="AWS region; by default AWS_REGION from the environment (as the "
                               "EKS Pod Identity and IRSA webhooks set it), then botocore's own chain "
                               "(AWS_DEFAULT_REGION, the profile's region).")
    endpoint: str | None = Field(None, description="Endpoint URL instead of AWS's (LocalStack in tests); '' = AWS.")
    request_timeout: Duration = Field(30.0, gt=0, description="Time to wait for one API response.")
    allow_insecure_endpoint: bool = Field(
        False, description="Accept an `http://` endpoint on a host other than this one (requests, signed with the "
        "node's credentials, would cross the network in clear). Loopback endpoints (LocalStack) need no consent.",
    )

    def resolved_region(self) -> str | None:
        """`region`, else AWS_REGION (the other AWS SDKs read it; botocore does not), else None: botocore's
        own chain then (AWS_DEFAULT_REGION, the profile)."""
        return self.region or os.environ.get("AWS_REGION") or None

    def environment_issues(self) -> list[tuple[str, str]]:
        if self.resolved_region():
            return []
        from botocore.session import get_session  # botocore's chain: AWS_DEFAULT_REGION, the profile

        if get_session().get_config_variable("region"):
            return []
        return [("region", "no region: set `region`, or AWS_REGION in the agent's environment")]

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _secure_endpoint(self) -> AwsOptions:
        if self.endpoint and self.endpoint.startswith("http://") and not self.allow_insecure_endpoint:
            host = urllib.parse.urlsplit(self.endpoint).hostname or ""
            if not is_loopback(host):
                raise ValueError(f"endpoint {self.endpoint!r} is plain http to another host: requests signed with "
                                 "the node's credentials would cross the network in clear; use https, or set "
                                 "allow_insecure_endpoint: true")
        return self

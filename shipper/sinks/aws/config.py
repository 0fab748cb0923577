"""Options every AWS sink shares: where the API is, and how long a call may take."""

from __future__ import annotations

import os
import urllib.parse

from pydantic import Field, field_validator, model_validator

from shipper.config.base import Options, SinkOptions
from shipper.config.units import Duration, is_loopback

ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$"


class AssumeRoleOptions(Options):
    """A role the sink's calls are made as, assumed with the node's own credentials (the default chain:
    IRSA, Pod Identity, the instance profile): a central logging account's role."""

    role_arn: str = Field(pattern=ROLE_ARN, max_length=2048,
                          description="The role's ARN, e.g. arn:aws:iam::111122223333:role/logs.")
    external_id: str | None = Field(None, min_length=2, max_length=1224,
                                    description="The ExternalId the role's trust policy asks for, if it does.")
    session_name: str = Field("shipper", pattern=r"^[A-Za-z0-9_+=,.@-]+$", min_length=2, max_length=64,
                              description="RoleSessionName: shows in the account's CloudTrail as who called.")
    duration: Duration = Field(3600.0, ge=1800, le=43200, description="How long each set of credentials lasts "
                               "(STS's DurationSeconds, 30m to 12h); they are renewed 15 minutes before they expire.")


class AwsOptions(SinkOptions):
    region: str | None = Field(None, description="AWS region; by default AWS_REGION from the environment (as the "
                               "EKS Pod Identity and IRSA webhooks set it), then botocore's own chain "
                               "(AWS_DEFAULT_REGION, the profile's region).")
    endpoint: str | None = Field(None, description="Endpoint URL instead of AWS's (LocalStack in tests); '' = AWS.")
    request_timeout: Duration = Field(30.0, gt=0, description="Time to wait for one API response.")
    assume_role: AssumeRoleOptions | None = Field(
        None, description="Make the calls as this role (`role_arn`, `external_id`, `session_name`, `duration`), "
        "assumed with the node's credentials; as Fluent Bit's `role_arn` and Vector's `auth.assume_role`. STS is "
        "reached as botocore finds it (the region's endpoint, or AWS_ENDPOINT_URL_STS).",
    )
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

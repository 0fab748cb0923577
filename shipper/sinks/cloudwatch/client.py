"""The CloudWatch Logs API (sinks/aws/client.py: credentials, signing, endpoints, HTTP).

PutLogEvents bodies are built by us with orjson (batch.request_body) and put in place of the one
botocore would serialize (about 6.7 CPU-seconds per million lines otherwise). Sequence tokens are
never sent.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shipper.sinks.aws.client import PREPARED_BODY, AwsClient
from shipper.sinks.aws.errors import error_code
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions as Options

GET_EVENTS_LIMIT = 10_000


class CloudWatchLogs(AwsClient):
    service = "logs"
    prepared = ("PutLogEvents",)
    options: Options

    def __init__(self, sink_id: str, options: Options):
        super().__init__(sink_id, options, options.max_requests_in_flight + 2)

    async def put_log_events(self, group: str, stream: str, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send a body built by batch.request_body; returns `rejectedLogEventsInfo` and
        `rejectedEntityInfo` (each {} when absent)."""
        response = await self.call("PutLogEvents", logGroupName=group, logStreamName=stream, logEvents=[],
                                    **{PREPARED_BODY: body})
        return response.get("rejectedLogEventsInfo") or {}, response.get("rejectedEntityInfo") or {}

    async def create_log_group(self, group: str, tags: dict[str, str], group_class: str | None = None,
                               kms_key_id: str | None = None, deletion_protection: bool = False) -> bool:
        """Create a group; False if it already existed (another node won the race). The class, the key
        and deletion protection are fixed at creation: an existing group keeps its own."""
        params: dict[str, Any] = {"logGroupName": group}
        if tags:
            params["tags"] = tags
        if group_class:
            params["logGroupClass"] = group_class
        if kms_key_id:
            params["kmsKeyId"] = kms_key_id
        if deletion_protection:
            params["deletionProtectionEnabled"] = True
        return await self._create("CreateLogGroup", **params)

    async def log_group_class(self, group: str) -> str | None:
        """The class of an existing group (CloudWatch's default, STANDARD, when it says none); None when
        there is no such group."""
        page = await self.call("DescribeLogGroups", logGroupNamePrefix=group, limit=50)
        for found in page.get("logGroups", []):
            if found.get("logGroupName") == group:
                return str(found.get("logGroupClass") or "STANDARD")
        return None

    async def put_retention_policy(self, group: str, days: int) -> None:
        await self.call("PutRetentionPolicy", logGroupName=group, retentionInDays=days)

    async def create_log_stream(self, group: str, stream: str) -> bool:
        return await self._create("CreateLogStream", logGroupName=group, logStreamName=stream)

    async def get_log_events(self, group: str, stream: str, start_ms: int, end_ms: int) -> list[tuple[int, str]]:
        """(timestamp, message) of the stream's events in [start_ms, end_ms], oldest first."""
        events: list[tuple[int, str]] = []
        token = None
        while True:
            page = await self.call(
                "GetLogEvents", logGroupName=group, logStreamName=stream, startTime=start_ms, endTime=end_ms + 1,
                startFromHead=True, limit=GET_EVENTS_LIMIT, **({"nextToken": token} if token else {}),
            )
            events += [(e["timestamp"], e["message"]) for e in page.get("events", [])]
            following = page.get("nextForwardToken")
            if not page.get("events") or following is None or following == token:
                return events
            token = following

    async def _create(self, operation: str, **params: Any) -> bool:
        try:
            await self.call(operation, **params)
        except ClientError as error:
            if error_code(error) == "ResourceAlreadyExistsException":
                return False
            raise
        return True

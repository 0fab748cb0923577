"""The CloudWatch Logs API through aiobotocore: credentials, signing, endpoints and HTTP.

PutLogEvents bodies are built by us with orjson (batch.request_body) and put in place of the one
botocore would serialize: validating and serializing 10,000 events would cost botocore more CPU than
the whole rest of the pipeline (about 6.7 CPU-seconds per million lines). The body rides in the
call's own request context (moved there by a `before-parameter-build` hook, put in place by a
`before-call` hook), never in a context variable: every task and callback created during the call
would keep a copy of the context, and with it a megabyte of body, until the garbage collector found
them. botocore's own retries are off; the sink retries (retry.py). Sequence tokens are never sent.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from shipper import __version__
from shipper.observe import metrics
from shipper.observe.logs import register_secret
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions as Options
from shipper.sinks.cloudwatch.retry import error_code

_PREPARED_BODY = "shipperPreparedBody"  # our own parameter: removed before botocore serializes the rest
GET_EVENTS_LIMIT = 10_000


class CloudWatchLogs:
    def __init__(self, sink_id: str, options: Options):
        self.labels = ("sink", sink_id, options.type)  # component_kind, component_id, component_type
        self.options = options
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._session: Any = None

    async def open(self) -> None:
        config = AioConfig(
            parameter_validation=False,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=min(10.0, self.options.request_timeout),
            read_timeout=self.options.request_timeout,
            max_pool_connections=self.options.max_requests_in_flight + 2,
            user_agent_extra=f"shipper/{__version__}",
            tcp_keepalive=True,
        )
        session = self._session = get_session()
        self._client = await self._stack.enter_async_context(session.create_client(
            "logs", region_name=self.options.region, endpoint_url=self.options.endpoint, config=config,
        ))
        events = self._client.meta.events
        events.register("before-parameter-build.cloudwatch-logs.PutLogEvents", _stash_prepared_body)
        events.register("before-call.cloudwatch-logs.PutLogEvents", _use_prepared_body)

    async def close(self) -> None:
        await self._stack.aclose()

    async def put_log_events(self, group: str, stream: str, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send a body built by batch.request_body; returns `rejectedLogEventsInfo` and
        `rejectedEntityInfo` (each {} when absent)."""
        response = await self._call("PutLogEvents", logGroupName=group, logStreamName=stream, logEvents=[],
                                    **{_PREPARED_BODY: body})
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
        page = await self._call("DescribeLogGroups", logGroupNamePrefix=group, limit=50)
        for found in page.get("logGroups", []):
            if found.get("logGroupName") == group:
                return str(found.get("logGroupClass") or "STANDARD")
        return None

    async def put_retention_policy(self, group: str, days: int) -> None:
        await self._call("PutRetentionPolicy", logGroupName=group, retentionInDays=days)

    async def create_log_stream(self, group: str, stream: str) -> bool:
        return await self._create("CreateLogStream", logGroupName=group, logStreamName=stream)

    async def get_log_events(self, group: str, stream: str, start_ms: int, end_ms: int) -> list[tuple[int, str]]:
        """(timestamp, message) of the stream's events in [start_ms, end_ms], oldest first."""
        events: list[tuple[int, str]] = []
        token = None
        while True:
            page = await self._call(
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
            await self._call(operation, **params)
        except ClientError as error:
            if error_code(error) == "ResourceAlreadyExistsException":
                return False
            raise
        return True

    async def _register_credentials(self) -> None:
        """The secret key and session token in use are masked in every log line by value (they
        rotate: IRSA, Pod Identity and IMDS refresh them, so this runs before every call)."""
        credentials = await self._session.get_credentials()
        if credentials is not None:
            frozen = await credentials.get_frozen_credentials()
            register_secret(frozen.secret_key)
            register_secret(frozen.token)

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        method = getattr(self._client, _snake(operation))
        try:
            await self._register_credentials()
            response = await method(**params)
        except Exception as error:
            metrics.api_calls.labels(*self.labels, operation, error_code(error)).inc()
            raise
        metrics.api_calls.labels(*self.labels, operation, "ok").inc()
        answer: dict[str, Any] = response  # the SDK's parsed response: a boundary, untyped
        return answer


def _stash_prepared_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if _PREPARED_BODY in params:
        context[_PREPARED_BODY] = params.pop(_PREPARED_BODY)


def _use_prepared_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(_PREPARED_BODY, None)
    if body is not None:
        params["body"] = body


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")

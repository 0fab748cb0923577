"""An AWS API through aiobotocore, as every AWS sink uses it: credentials, signing, endpoints, HTTP.

Request bodies of the hot calls (PutLogEvents, PutRecordBatch, PutRecords) are built by the sinks
with orjson and put in place of the one botocore would serialize: validating and serializing
thousands of members would cost botocore more CPU than the whole rest of the pipeline. The body
rides in the call's own request context (moved there by a `before-parameter-build` hook, put in
place by a `before-call` hook), never in a context variable: every task and callback created during
the call would keep a copy of the context, and with it megabytes of body, until the garbage
collector found them. botocore's own retries are off; the sinks retry. The secret key and session
token in use are masked in every log line.
"""

from __future__ import annotations

import functools
from contextlib import AsyncExitStack
from typing import Any, ClassVar

from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioAssumeRoleCredentialFetcher, AioDeferredRefreshableCredentials
from aiobotocore.session import get_session

from shipper import __version__
from shipper.observe import metrics
from shipper.observe.logs import register_secret
from shipper.sinks.aws.config import AssumeRoleOptions, AwsOptions
from shipper.sinks.aws.errors import error_code

PREPARED_BODY = "shipperPreparedBody"  # our own parameter: removed before botocore serializes the rest


class AwsClient:
    service: ClassVar[str]  # botocore's name of the service: "logs", "firehose", "kinesis"
    prepared: ClassVar[tuple[str, ...]] = ()  # operations whose body the caller builds (PREPARED_BODY)

    def __init__(self, sink_id: str, options: AwsOptions, connections: int):
        self.labels = ("sink", sink_id, options.type)  # component_kind, component_id, component_type
        self.options = options
        self.connections = connections
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._session: Any = None

    async def open(self) -> None:
        config = AioConfig(
            parameter_validation=False,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=min(10.0, self.options.request_timeout),
            read_timeout=self.options.request_timeout,
            max_pool_connections=self.connections,
            user_agent_extra=f"shipper/{__version__}",
            tcp_keepalive=True,
        )
        session = self._session = get_session()
        if self.options.assume_role is not None:
            _assume_role(session, self.options.assume_role, self.options.resolved_region())
        self._client = await self._stack.enter_async_context(session.create_client(
            self.service, region_name=self.options.resolved_region(), endpoint_url=self.options.endpoint, config=config,
        ))
        events = self._client.meta.events
        name = self._client.meta.service_model.service_id.hyphenize()
        for operation in self.prepared:
            events.register(f"before-parameter-build.{name}.{operation}", _stash_prepared_body)
            events.register(f"before-call.{name}.{operation}", _use_prepared_body)

    async def close(self) -> None:
        await self._stack.aclose()

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One API call, counted in `shipper_api_calls_total` by its result; errors are raised as the SDK's."""
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

    async def _register_credentials(self) -> None:
        """The secret key and session token in use are masked in every log line by value (they
        rotate: IRSA, Pod Identity and IMDS refresh them, so this runs before every call)."""
        credentials = await self._session.get_credentials()
        if credentials is not None:
            frozen = await credentials.get_frozen_credentials()
            register_secret(frozen.secret_key)
            register_secret(frozen.token)


def _assume_role(session: Any, role: AssumeRoleOptions, region: str | None) -> None:
    """Make `session`'s credentials those of `role`, assumed (and renewed before they expire: botocore's
    deferred refreshable credentials) with the credentials the default chain finds. Set on the session
    as botocore's own assume-role provider leaves them: clients it creates sign with them."""
    base = get_session()
    extra: dict[str, Any] = {"RoleSessionName": role.session_name, "DurationSeconds": int(role.duration)}
    if role.external_id:
        extra["ExternalId"] = role.external_id

    async def source_credentials() -> Any:
        return await base.get_credentials()

    fetcher = AioAssumeRoleCredentialFetcher(
        client_creator=functools.partial(base.create_client, region_name=region),
        source_credentials=_LazyCredentials(source_credentials), role_arn=role.role_arn, extra_args=extra)
    session._credentials = AioDeferredRefreshableCredentials(method="assume-role",
                                                            refresh_using=fetcher.fetch_credentials)


class _LazyCredentials:
    """The default chain's credentials, looked up when STS is first called (not when the sink is made)."""

    def __init__(self, load: Any):
        self._load = load

    async def get_frozen_credentials(self) -> Any:
        credentials = await self._load()
        if credentials is None:
            raise RuntimeError("no AWS credentials to assume the role with (IRSA, Pod Identity, instance profile, "
                               "or the environment)")
        return await credentials.get_frozen_credentials()


def _stash_prepared_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if PREPARED_BODY in params:
        context[PREPARED_BODY] = params.pop(PREPARED_BODY)


def _use_prepared_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(PREPARED_BODY, None)
    if body is not None:
        params["body"] = body


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")

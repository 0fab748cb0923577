"""What a failed CloudWatch call means, and the retry policy (tenacity, full jitter, forever).

Kinds of failure:
- TRANSIENT: the request was not taken (throttling, 5xx, connection refused, expired credentials):
  send again after a backoff.
- AMBIGUOUS: the request may have landed (connection reset or timeout after sending): ask the
  stream whether the batch is there before sending it again.
- MISSING: the group or stream does not exist: create it (if allowed) and send again.
- FORBIDDEN: bad or missing credentials: the sink is not ready; keep the data, keep retrying.
- REFUSED: this stream's group refuses us (access denied for it, its KMS key unusable): the stream
  is parked when other streams still deliver (sink.py), else it is the sink's problem as FORBIDDEN.
- UNTRUSTED: the endpoint's TLS certificate fails verification (a proxy intercepting TLS, a wrong
  CA bundle): the sink is not ready with that reason; keep the data, keep retrying. Never taken for
  a passing network fault: nothing but an operator fixes it.
- INVALID: the request itself is refused: bisect the batch to isolate the event it refuses.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_never

from shipper.backoff import policy
from shipper.sinks.aws.errors import certificate_refused, error_code, http_status

BACKOFF_BASE = 0.2
BACKOFF_MAX = 30.0


class Failure(enum.Enum):
    TRANSIENT = "transient"
    AMBIGUOUS = "ambiguous"
    MISSING = "missing"
    FORBIDDEN = "forbidden"
    REFUSED = "refused"
    UNTRUSTED = "untrusted"
    INVALID = "invalid"


_FORBIDDEN_CODES = {
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
    "MissingAuthenticationToken", "OptInRequired", "UnauthorizedOperation",
}
_REFUSED_CODES = {"AccessDenied", "AccessDeniedException", "KMSInvalidStateException"}  # may be one group's
_INVALID_CODES = {"InvalidParameterException", "ValidationException", "SerializationException",
                  "MalformedQueryException"}


def classify(error: BaseException) -> Failure:
    if certificate_refused(error):
        return Failure.UNTRUSTED
    if isinstance(error, ClientError):
        code = error_code(error)
        status = http_status(error)
        if code == "ResourceNotFoundException":
            return Failure.MISSING
        if code in _REFUSED_CODES:
            return Failure.REFUSED
        if code in _FORBIDDEN_CODES or (status == 403 and "Throttl" not in code):
            return Failure.FORBIDDEN
        if code in _INVALID_CODES:
            return Failure.INVALID
        return Failure.TRANSIENT  # throttling, 5xx, expired tokens and anything unknown: try again
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return Failure.FORBIDDEN
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return Failure.TRANSIENT  # nothing was sent
    if isinstance(error, HTTPClientError | aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return Failure.AMBIGUOUS
    if isinstance(error, BotoCoreError):
        return Failure.TRANSIENT  # e.g. credentials that could not be refreshed yet
    raise error


class Retryable(Exception):
    """A failure worth another attempt; carries what it was."""

    def __init__(self, failure: Failure, cause: BaseException):
        super().__init__(f"{failure.value}: {error_code(cause)}: {cause}")
        self.failure = failure
        self.cause = cause


def retrying(sleep: Callable[[float], Awaitable[None]],
             before_sleep: Callable[[Retryable, float], None]) -> AsyncRetrying:
    """Exponential backoff with full jitter, no limit on attempts: records wait in the spool."""

    def report(state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None  # tenacity sets both before a sleep
        failure = state.outcome.exception()
        assert isinstance(failure, Retryable)  # only those are retried
        before_sleep(failure, state.next_action.sleep)

    return AsyncRetrying(
        retry=retry_if_exception(lambda e: isinstance(e, Retryable)),
        wait=policy(BACKOFF_BASE, BACKOFF_MAX),
        stop=stop_never,
        sleep=sleep,
        before_sleep=report,
        reraise=True,
    )

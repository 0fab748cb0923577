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

import enum
from collections.abc import Awaitable, Callable

from botocore.exceptions import ClientError
from tenacity import AsyncRetrying

from shipper.backoff import policy, retry_forever
from shipper.sinks.aws.errors import Unanswered, certificate_refused, credentials_refused, error_code, unanswered

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


_REFUSED_CODES = {"AccessDenied", "AccessDeniedException", "KMSInvalidStateException"}  # may be one group's
_INVALID_CODES = {"InvalidParameterException", "ValidationException", "SerializationException",
                  "MalformedQueryException"}
_UNANSWERED = {Unanswered.NO_CREDENTIALS: Failure.FORBIDDEN, Unanswered.AMBIGUOUS: Failure.AMBIGUOUS,
               Unanswered.UNSENT: Failure.TRANSIENT, Unanswered.NOT_YET: Failure.TRANSIENT}


def classify(error: BaseException) -> Failure:
    if certificate_refused(error):
        return Failure.UNTRUSTED
    if not isinstance(error, ClientError):
        return _UNANSWERED[unanswered(error)]
    code = error_code(error)
    if code == "ResourceNotFoundException":
        return Failure.MISSING
    if code in _REFUSED_CODES:
        return Failure.REFUSED
    if credentials_refused(error):
        return Failure.FORBIDDEN
    if code in _INVALID_CODES:
        return Failure.INVALID
    return Failure.TRANSIENT  # throttling, 5xx, expired tokens and anything unknown: try again


class Retryable(Exception):
    """A failure worth another attempt; carries what it was."""

    def __init__(self, failure: Failure, cause: BaseException):
        super().__init__(f"{failure.value}: {error_code(cause)}: {cause}")
        self.failure = failure
        self.cause = cause


def retrying(sleep: Callable[[float], Awaitable[None]],
             before_sleep: Callable[[Retryable, float], None]) -> AsyncRetrying:
    """Exponential backoff with full jitter, no limit on attempts: records wait in the spool."""
    return retry_forever(Retryable, before_sleep, policy(BACKOFF_BASE, BACKOFF_MAX), sleep)

"""What a failed call, or a refused record, means; the retry policy is the agent's one backoff
(tenacity, full jitter, forever: records wait in the spool).

A whole call fails:
- TRANSIENT: not taken (throttling, 5xx, no connection, credentials not refreshed yet): send again.
- AMBIGUOUS: it may have landed (the connection reset or timed out after sending): send again, so
  its records may arrive twice (counted in `shipper_retries_total{failure="ambiguous"}`).
- NOT_READY: an operator must act (access denied, no such stream, a KMS key unusable, bad
  credentials): the sink is not ready; the records stay in the spool and the call is tried again.
- UNTRUSTED: the endpoint's certificate fails verification: not ready, as above.
- INVALID: the request itself is refused: the batch is halved to find the record refused, which is
  discarded and counted; the others go on.
A record is refused within a call that succeeded (its ErrorCode): throttling and internal failures
are sent again, alone with the others refused, in their order; any other code (a KMS key unusable)
too, with the sink not ready.
"""

from __future__ import annotations

import enum

from botocore.exceptions import ClientError

from shipper.sinks.aws.errors import Unanswered, certificate_refused, credentials_refused, error_code, unanswered

BACKOFF_BASE = 0.2
BACKOFF_MAX = 30.0


class Failure(enum.Enum):
    TRANSIENT = "transient"
    AMBIGUOUS = "ambiguous"
    NOT_READY = "not_ready"
    UNTRUSTED = "untrusted"
    INVALID = "invalid"


RECORD_RETRIED = frozenset({"ProvisionedThroughputExceededException", "ServiceUnavailableException",
                            "ServiceUnavailable", "InternalFailure", "InternalFailureException",
                            "ThrottlingException", "KMSThrottlingException"})
_NOT_READY = {
    "AccessDenied", "AccessDeniedException", "ResourceNotFoundException", "KMSAccessDeniedException",
    "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException", "KMSOptInRequired",
    "InvalidKMSResourceException",
}
_INVALID = {"InvalidArgumentException", "ValidationException", "SerializationException", "InvalidParameterException"}
_UNANSWERED = {Unanswered.NO_CREDENTIALS: Failure.NOT_READY, Unanswered.AMBIGUOUS: Failure.AMBIGUOUS,
               Unanswered.UNSENT: Failure.TRANSIENT, Unanswered.NOT_YET: Failure.TRANSIENT}


def classify(error: BaseException) -> Failure:
    if certificate_refused(error):
        return Failure.UNTRUSTED
    if not isinstance(error, ClientError):
        return _UNANSWERED[unanswered(error)]
    if error_code(error) in _NOT_READY or credentials_refused(error):
        return Failure.NOT_READY
    if error_code(error) in _INVALID:
        return Failure.INVALID
    return Failure.TRANSIENT  # throttling, 5xx, a stream being updated, anything unknown: try again


class Retry(Exception):
    """A call worth another attempt: why (a failure kind or a record's error code)."""

    def __init__(self, reason: str, not_ready: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.not_ready = not_ready  # what to tell the operator, when it needs one

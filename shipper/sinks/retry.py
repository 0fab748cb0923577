"""The one retry vocabulary of the sinks: what a failed call means (`Failure`, `classify`), the
exception a sink raises for an attempt worth making again (`Retry`), the policy that makes it
(`retrying`: the agent's one backoff, forever, or the server's Retry-After when longer), and the
halving of a request the backend refuses as it is (`send_halving`).

Kinds of failure of a whole call:
- TRANSIENT: not taken (throttling, 5xx, no connection, credentials not refreshed yet): send again.
- AMBIGUOUS: it may have landed (the connection reset or timed out after sending): a sink that can
  ask the backend does (CloudWatch); the others send again, so its records may arrive twice
  (counted in `shipper_retries_total{failure="ambiguous"}`).
- MISSING: the destination does not exist (CloudWatch creates it when allowed).
- FORBIDDEN: our credentials are refused or missing: the sink is not ready, records wait.
- REFUSED: this destination refuses us (access denied to it, its KMS key unusable): one
  destination's problem where a sink writes to many (CloudWatch parks it), else as FORBIDDEN.
- UNTRUSTED: the endpoint's certificate fails verification (a proxy intercepting TLS, a wrong CA
  bundle): not ready; never taken for a passing network fault, only an operator fixes it.
- INVALID: the request itself is refused: `send_halving` isolates the record refused.
Records wait in the spool while a sink retries, so there is no limit on attempts.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import ClientError
from tenacity import AsyncRetrying, RetryCallState
from tenacity.wait import wait_base

from shipper.backoff import policy, retry_forever
from shipper.sinks.aws.errors import (
    ServiceErrors,
    Unanswered,
    certificate_refused,
    credentials_refused,
    error_code,
    unanswered,
)

BACKOFF_BASE = 0.2  # seconds: the first retry waits up to this...
BACKOFF_MAX = 30.0  # ... and no retry longer than this, unless the server asks for it


class Failure(enum.Enum):
    TRANSIENT = "transient"
    AMBIGUOUS = "ambiguous"
    MISSING = "missing"
    FORBIDDEN = "forbidden"
    REFUSED = "refused"
    UNTRUSTED = "untrusted"
    INVALID = "invalid"

    @property
    def needs_operator(self) -> bool:
        """Retrying will not fix it by itself: the sink reports itself not ready while it retries."""
        return self in (Failure.FORBIDDEN, Failure.REFUSED, Failure.UNTRUSTED)


_UNANSWERED = {Unanswered.NO_CREDENTIALS: Failure.FORBIDDEN, Unanswered.AMBIGUOUS: Failure.AMBIGUOUS,
               Unanswered.UNSENT: Failure.TRANSIENT, Unanswered.NOT_YET: Failure.TRANSIENT}


def classify(error: BaseException, service: ServiceErrors) -> Failure:
    """What an AWS SDK error from a call to `service` means; an error no AWS call raises is raised again."""
    if certificate_refused(error):
        return Failure.UNTRUSTED
    if not isinstance(error, ClientError):
        return _UNANSWERED[unanswered(error)]
    code = error_code(error)
    if code in service.missing:
        return Failure.MISSING
    if code in service.refused:
        return Failure.REFUSED
    if credentials_refused(error):
        return Failure.FORBIDDEN
    if code in service.invalid:
        return Failure.INVALID
    return Failure.TRANSIENT  # throttling, 5xx, expired tokens and anything unknown: try again


class Retry(Exception):
    """An attempt worth making again. `reason` labels `shipper_retries_total`; `failure` is the kind
    when a whole call failed, `cause` the error behind it; `not_ready` what to tell the operator when
    only they can fix it, under `not_ready_code` in /readyz (`reason` unless given); `retry_after` the
    seconds the server asked for."""

    def __init__(self, reason: str, *, failure: Failure | None = None, cause: BaseException | None = None,
                 not_ready: str | None = None, not_ready_code: str | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.failure = failure
        self.cause = cause
        self.not_ready = not_ready
        self.not_ready_code = not_ready_code or reason
        self.retry_after = retry_after

    @classmethod
    def for_call(cls, failure: Failure, cause: BaseException) -> Retry:
        """A whole call failed as `failure`: retried under the failure's name, the sink not ready
        meanwhile when only an operator can fix it."""
        code = error_code(cause)
        not_ready = f"{failure.value}: {code}: {cause}" if failure.needs_operator else None
        return cls(failure.value, failure=failure, cause=cause, not_ready=not_ready,
                   not_ready_code=f"{failure.value}:{code}")

    @classmethod
    def for_aws_call(cls, failure: Failure, error: BaseException, where: str) -> Retry:
        """A whole AWS call to `where` failed as `failure`: retried under its error code (`ambiguous` when
        it may have landed); not ready meanwhile when an operator must act (a certificate refused; the
        destination missing, denied or refusing the request as invalid)."""
        code = error_code(error)
        if failure is Failure.UNTRUSTED:
            return cls("certificate", failure=failure, cause=error,
                       not_ready="the endpoint's certificate fails verification (a proxy? a CA bundle?)")
        if failure in (Failure.MISSING, Failure.FORBIDDEN, Failure.REFUSED, Failure.INVALID):
            return cls(f"not_ready:{code}", failure=failure, cause=error, not_ready=f"{where}: {code}: {error}")
        return cls(failure.value if failure is Failure.AMBIGUOUS else code, failure=failure, cause=error)

    @property
    def not_ready_pair(self) -> tuple[str, str] | None:
        """What to tell the operator and the code /readyz shows, when only they can fix it."""
        return (self.not_ready, self.not_ready_code) if self.not_ready is not None else None

    @property
    def reason_code(self) -> str:
        """The error code behind it (an AWS code, an exception's name), else the reason."""
        return error_code(self.cause) if self.cause is not None else self.reason


@dataclass(frozen=True)
class _ServerFirst(wait_base):
    """The backoff's draw, or the server's Retry-After when that is longer."""

    backoff: wait_base

    def __call__(self, state: RetryCallState) -> float:
        wait = self.backoff(state)
        failure = state.outcome.exception() if state.outcome is not None else None
        asked = failure.retry_after if isinstance(failure, Retry) else None
        return max(wait, asked) if asked is not None else wait


def retrying(before_sleep: Callable[[Retry, float], None],
             sleep: Callable[[float], Awaitable[None]] | None = None) -> AsyncRetrying:
    """Attempts until one succeeds or raises anything but `Retry`: exponential backoff with full
    jitter (BACKOFF_BASE .. BACKOFF_MAX) or the server's Retry-After when longer; `sleep` waits."""
    return retry_forever(Retry, before_sleep, _ServerFirst(policy(BACKOFF_BASE, BACKOFF_MAX)), sleep)


class Refused(Exception):
    """The backend refuses a request as it is (invalid, too large): its halves may pass. `reason`
    labels the retry a halving counts and the discard of a record refused alone."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


Request = TypeVar("Request")


async def send_halving(request: Request, send: Callable[[Request], Awaitable[None]],
                       halves: Callable[[Request], tuple[Request, Request] | None],
                       halved: Callable[[Refused], None], refused_alone: Callable[[Request, Refused], None]) -> None:
    """Send `request`; when it is Refused, send its halves the same way, down to single records
    (`halves` gives None), which `refused_alone` discards and counts. Every record the backend takes
    is sent, in order; `halved` hears of each split."""
    try:
        await send(request)
    except Refused as refusal:
        parts = halves(request)
        if parts is None:
            refused_alone(request, refusal)
            return
        halved(refusal)
        for half in parts:
            await send_halving(half, send, halves, halved, refused_alone)

"""The retry policy: tenacity, exponential backoff with full jitter, no limit on attempts (records
wait in the spool); a server's Retry-After is honoured when it asks for longer than the backoff."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState
from tenacity.wait import wait_base

from shipper.backoff import policy, retry_forever
from shipper.sinks.http.service import Answer

BACKOFF_BASE = 0.2
BACKOFF_MAX = 30.0


class Retry(Exception):
    """An answer worth another attempt (see service.Outcome)."""

    def __init__(self, answer: Answer):
        super().__init__(answer.reason)
        self.answer = answer


class _ServerFirst(wait_base):
    """The backoff's draw, or the server's Retry-After when that is longer."""

    def __init__(self, backoff: wait_base):
        self.backoff = backoff

    def __call__(self, state: RetryCallState) -> float:
        wait = self.backoff(state)
        failure = state.outcome.exception() if state.outcome is not None else None
        asked = failure.answer.retry_after if isinstance(failure, Retry) else None
        return max(wait, asked) if asked is not None else wait


def retrying(before_sleep: Callable[[Retry, float], None]) -> AsyncRetrying:
    return retry_forever(Retry, before_sleep, _ServerFirst(policy(BACKOFF_BASE, BACKOFF_MAX)))

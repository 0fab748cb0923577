"""The one backoff of the agent: exponential with full jitter (AWS's recommendation; tenacity's
`wait_random_exponential`), for everything that tries again: CloudWatch requests, syslog
connections, the Kubernetes API, parked streams, crashed components.

`policy` is the tenacity wait strategy, for retry loops that tenacity runs (`retry_forever` builds
the one every sink uses); `delay` is the same curve for loops of our own (a connection loop, a thread
waiting on an event).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never, wait_random_exponential
from tenacity.wait import wait_base

Retried = TypeVar("Retried", bound=BaseException)


def policy(first: float, most: float) -> wait_base:
    """Attempt n waits a random time in [0, min(most, first * 2 ** (n - 1))]."""
    return wait_random_exponential(multiplier=first, max=most)


def delay(attempt: int, first: float, most: float) -> float:
    """The wait before attempt `attempt + 1` after `attempt` failures (1, 2, ...), as `policy` draws it."""
    return random.uniform(0, min(most, first * 2 ** (max(attempt, 1) - 1)))


def retry_forever(retried: type[Retried], before_sleep: Callable[[Retried, float], None], wait: wait_base,
                  sleep: Callable[[float], Awaitable[None]] | None = None) -> AsyncRetrying:
    """Attempts of a call until it succeeds or raises anything but `retried` (raised as it is), with no
    limit on attempts: a sink's records wait in the spool, not in memory, while it retries.
    `before_sleep(failure, seconds)` hears of each failure retried and the wait drawn for it."""

    def report(state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None  # tenacity sets both before a sleep
        failure = state.outcome.exception()
        assert isinstance(failure, retried)  # only those are retried
        before_sleep(failure, state.next_action.sleep)

    custom: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    return AsyncRetrying(retry=retry_if_exception_type(retried), wait=wait, stop=stop_never, before_sleep=report,
                         reraise=True, **custom)

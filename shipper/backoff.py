"""The one backoff of the agent: exponential with full jitter (AWS's recommendation; tenacity's
`wait_random_exponential`), for everything that tries again: CloudWatch requests, syslog
connections, the Kubernetes API, parked streams, crashed components.

`policy` is the tenacity wait strategy, for retry loops that tenacity runs; `delay` is the same
curve for loops of our own (a connection loop, a thread waiting on an event).
"""

from __future__ import annotations

import random

from tenacity import wait_random_exponential
from tenacity.wait import wait_base


def policy(first: float, most: float) -> wait_base:
    """Attempt n waits a random time in [0, min(most, first * 2 ** (n - 1))]."""
    return wait_random_exponential(multiplier=first, max=most)


def delay(attempt: int, first: float, most: float) -> float:
    """The wait before attempt `attempt + 1` after `attempt` failures (1, 2, ...), as `policy` draws it."""
    return random.uniform(0, min(most, first * 2 ** (max(attempt, 1) - 1)))

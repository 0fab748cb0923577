"""The one backoff: attempt n waits a random time in [0, min(most, first * 2 ** (n - 1))], the curve
tenacity draws for the retries it runs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tenacity import RetryCallState

from shipper.backoff import delay, policy


@given(st.integers(1, 40), st.floats(0.01, 10), st.floats(10, 600))
def test_a_wait_never_exceeds_the_exponential_bound_nor_the_cap(attempt, first, most):
    bound = min(most, first * 2 ** (attempt - 1))
    state = RetryCallState(None, None, (), {})
    state.attempt_number = attempt

    assert 0 <= delay(attempt, first, most) <= bound
    assert 0 <= policy(first, most)(state) <= bound

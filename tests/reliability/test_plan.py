"""The fault plans themselves: a step that waits for the agent to be ready never lands where it cannot be."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.reliability.faults import LONG, SHORT, WINDOWS, plan


@pytest.mark.parametrize("profile", [SHORT, replace(LONG, duration=900)], ids=["short", "long"])
def test_no_sigterm_is_planned_inside_a_read_only_window_whose_end_it_would_wait_for(profile):
    for seed in range(300):
        steps = plan(seed, profile)
        windows = [(s.at, s.at + float(WINDOWS["read_only"])) for s in steps if s.action == "read_only:start"]
        terms = [s.at for s in steps if s.action == "term"]

        assert not [(at, window) for at in terms for window in windows if window[0] <= at <= window[1]], seed

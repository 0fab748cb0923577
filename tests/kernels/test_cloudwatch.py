"""The CloudWatch kernel (shipper/kernels/_cloudwatch.c) gives exactly the reference's events
(sinks/cloudwatch/batch.py: one_event_each) on any block: times anywhere in and past 64 bits (floored,
negative ones too), messages of any code points, empty, at and past the event size limit; and hands
back to the reference only what it says it does not take."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.sinks.cloudwatch.batch import EventQueue, one_event_each

pytestmark = pytest.mark.skipif(kernels.cloudwatch is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")

T0 = 1_795_342_500_123_456_789
times = st.one_of(st.integers(T0 - 10**12, T0 + 10**12), st.integers(-(2**63), 2**63 - 1),
                  st.sampled_from([0, -1, -999_999, -1_000_000, -1_000_001, 999_999, 2**63 - 1, -(2**63)]))
ascii_text = st.text(st.characters(max_codepoint=127), max_size=60)
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)


@st.composite
def blocks(draw: st.DrawFn) -> tuple[list[int], list[str]]:
    messages = draw(st.lists(st.one_of(ascii_text, ascii_text, any_text), max_size=20))
    return [draw(times) for _ in messages], messages


@settings(max_examples=3000, deadline=None)
@given(blocks(), st.integers(26, 120))
def test_the_kernel_makes_exactly_the_references_events(block, max_event_size):
    timestamps, messages = block

    made = kernels.cloudwatch.events(timestamps, messages, max_event_size)

    assert made is not NotImplemented
    assert made == one_event_each(timestamps, messages, max_event_size)
    if made is not None:  # the same keys in the same order: the request body is the same bytes
        assert [list(event) for event in made[0]] == [["timestamp", "message"]] * len(messages)


@settings(max_examples=500, deadline=None)
@given(blocks(), st.integers(30, 120))  # pieces of 4 bytes and more hold any character
def test_a_queue_holds_the_same_events_with_the_kernel_as_without(block, max_event_size):
    timestamps, messages = block
    compiled, reference = EventQueue(), EventQueue()

    compiled.add(timestamps, messages, 3, 0, 1, max_event_size)
    saved, kernels.cloudwatch = kernels.cloudwatch, None
    try:
        reference.add(timestamps, messages, 3, 0, 1, max_event_size)
    finally:
        kernels.cloudwatch = saved

    assert (compiled.events, compiled.times, compiled.sizes, compiled.size, list(compiled.runs)) == \
           (reference.events, reference.times, reference.sizes, reference.size, list(reference.runs))


class Text(str):
    pass


@pytest.mark.parametrize(("timestamps", "messages"), [
    ((T0,), ["a"]),  # not lists
    ([T0], ("a",)),
    ([T0, T0], ["a"]),  # different lengths
    ([T0], [Text("a")]),  # a str subclass
    ([T0], [b"a"]),  # not a str
    ([2**63], ["a"]),  # past 64 bits
    ([True], ["a"]),  # a bool is an int, not exactly
    ([1.5e18], ["a"]),  # not an int
])
def test_the_kernel_hands_back_what_it_does_not_take(timestamps, messages):
    assert kernels.cloudwatch.events(timestamps, messages, 1000) is NotImplemented


def test_the_usual_block_is_taken_with_floored_milliseconds():
    made = kernels.cloudwatch.events([T0, -1], ["GET /", "x"], 1000)

    assert made == ([{"timestamp": T0 // 10**6, "message": "GET /"}, {"timestamp": -1, "message": "x"}],
                    [T0 // 10**6, -1], [5, 1])

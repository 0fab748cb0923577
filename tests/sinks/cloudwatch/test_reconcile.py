"""The ledger row of a batch names the earlier events a check after a crash must also find."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from shipper.sinks.cloudwatch.batch import Batch, EventQueue
from shipper.sinks.cloudwatch.reconcile import row_for

events = st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["a", "b", "c"])), max_size=30)


def as_batch(pairs: list[tuple[int, str]], block: int) -> Batch:
    queue = EventQueue()
    queue.add([ts * 1_000_000 for ts, _ in pairs], [message for _, message in pairs], block, 0, 1, 1024)
    return queue.take()


@given(events, events.filter(bool))
def test_the_overlap_is_every_earlier_event_from_the_batchs_first_millisecond_on_that_the_batch_repeats(
        earlier, current):
    previous = as_batch(earlier, 1).chronological() if earlier else []
    batch = as_batch(current, 2)

    row = row_for("g", "s", batch, batch.chronological(), previous)

    low = min(ts for ts, _ in current)
    repeated = Counter((ts, m) for ts, m in earlier if ts >= low and (ts, m) in set(current))
    assert Counter({(ts, m): n for ts, m, n in row.overlap}) == repeated
    assert (row.first, row.last) == ((2, 0, 0), (2, len(current) - 1, 0))

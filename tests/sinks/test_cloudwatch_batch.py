"""The batch builder can never build a PutLogEvents call that breaks a limit of the API."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.sinks.cloudwatch.batch import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BATCH_SPAN_MS,
    block_events,
    chronological,
    make_events,
    request_body,
    split_message,
    take_batch,
)
from shipper.sinks.cloudwatch.config import EVENT_OVERHEAD

DAY_MS = 24 * 3600 * 1000
NOW_MS = 1_790_000_000_000

messages = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="aé€😀", min_size=1, max_size=3000),
    st.builds(lambda n, c: c * n, st.integers(0, 300_000), st.sampled_from(["x", "é", "😀"])),
)
timestamps = st.one_of(
    st.integers(NOW_MS - 3 * DAY_MS, NOW_MS + 3 * DAY_MS),
    st.integers(NOW_MS, NOW_MS + 10),
)
event_sizes = st.integers(1024, 1024 * 1024)


def build(records, max_event_size):
    events = []
    for index, (timestamp, message) in enumerate(records):
        events += make_events(timestamp, message, 1, index, None, max_event_size)
    return events


def drain(events):
    queue = list(events)
    batches = []
    while queue:
        batch = take_batch(queue)
        assert batch, "take_batch must always make progress"
        batches.append(batch)
    return batches


def assert_within_limits(batch, max_event_size):
    assert 1 <= len(batch) <= MAX_BATCH_EVENTS
    assert sum(len(e[1].encode()) + EVENT_OVERHEAD for e in batch) <= MAX_BATCH_BYTES
    times = [e[0] for e in batch]
    assert max(times) - min(times) <= MAX_BATCH_SPAN_MS < DAY_MS
    for event in batch:
        assert len(event[1].encode()) >= 1 and len(event[1].encode()) + EVENT_OVERHEAD <= max_event_size
        assert event[2] == len(event[1].encode())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(timestamps, messages), max_size=60), event_sizes)
def test_no_batch_breaks_a_limit_and_every_record_is_sent_whole_in_order(records, max_event_size):
    events = build(records, max_event_size)

    batches = drain(events)

    for batch in batches:
        assert_within_limits(batch, max_event_size)
    sent = [e for batch in batches for e in batch]
    assert sent == events  # nothing lost, nothing repeated, read order kept across batches
    for index, (_, message) in enumerate(records):
        assert "".join(e[1] for e in sent if e[4] == index) == (message or " ")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 25_000), st.integers(0, 40))
def test_many_small_events_are_cut_at_ten_thousand_or_one_mebibyte(count, length):
    events = build([(NOW_MS, "m" * length)] * count, 256 * 1024)

    batches = drain(events)

    for batch in batches:
        assert_within_limits(batch, 256 * 1024)
    assert sum(map(len, batches)) == count
    assert all(len(b) == MAX_BATCH_EVENTS or
               sum(e[2] + EVENT_OVERHEAD for e in b) + length + EVENT_OVERHEAD > MAX_BATCH_BYTES
               for b in batches[:-1])


ascii_lines = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=200)
blocks = st.one_of(  # blocks of plain ASCII lines (the usual case) and blocks that hold anything
    st.lists(st.tuples(timestamps, ascii_lines), min_size=1, max_size=60),
    st.lists(st.tuples(timestamps, st.one_of(ascii_lines, messages)), min_size=1, max_size=60),
)


@settings(max_examples=200, deadline=None)
@given(blocks, st.integers(0, 5), st.one_of(event_sizes, st.sampled_from([EVENT_OVERHEAD + 150, EVENT_OVERHEAD + 200])))
def test_a_blocks_events_are_the_events_of_its_records_one_by_one_in_order(records, start, max_event_size):
    stamps_ns = [t * 1_000_000 + 999_999 for t, _ in records]  # milliseconds are cut, never rounded

    events, size = block_events(stamps_ns, [m for _, m in records], 7, start, "segment", max_event_size)

    expected = [event for index, (t, message) in enumerate(records, start)
                for event in make_events(t, message, 7, index, "segment", max_event_size)]
    assert events == expected
    assert size == sum(e[2] for e in expected)


@given(st.lists(timestamps, min_size=1, max_size=50))
def test_a_batch_is_sent_in_chronological_order_keeping_read_order_within_a_millisecond(times):
    events = build([(t, f"line {i}") for i, t in enumerate(times)], 256 * 1024)

    ordered = chronological(events)

    assert [e[0] for e in ordered] == sorted(e[0] for e in events)
    for a, b in itertools.pairwise(ordered):
        if a[0] == b[0]:
            assert a[4] < b[4]


@given(st.text(), st.integers(4, 100))
def test_split_pieces_join_to_the_message_and_never_cut_a_character(message, max_bytes):
    pieces = split_message(message, max_bytes)

    assert "".join(pieces) == message
    assert all(0 < len(p.encode()) <= max_bytes for p in pieces)


def test_an_empty_line_becomes_one_space_because_cloudwatch_refuses_empty_messages():
    (event,) = make_events(NOW_MS, "", 1, 0, None, 256 * 1024)

    assert event[1] == " " and event[2] == 1


def test_the_request_body_is_plain_put_log_events_json_without_a_sequence_token():
    events = build([(NOW_MS + 1, "b"), (NOW_MS, "a \"quoted\" é")], 256 * 1024)

    body = orjson.loads(request_body("/g", "s", chronological(events)))

    assert body == {"logGroupName": "/g", "logStreamName": "s",
                    "logEvents": [{"timestamp": NOW_MS, "message": "a \"quoted\" é"},
                                  {"timestamp": NOW_MS + 1, "message": "b"}]}


def test_a_lone_surrogate_is_replaced_instead_of_failing_the_batch():
    events = build([(NOW_MS, "bad \udcff end")], 256 * 1024)

    body = orjson.loads(request_body("/g", "s", events))

    assert body["logEvents"][0]["message"] == "bad ? end"

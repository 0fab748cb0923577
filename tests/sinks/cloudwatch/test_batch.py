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
    Batch,
    EventQueue,
    event_messages,
    request_body,
)
from shipper.sinks.cloudwatch.config import EVENT_OVERHEAD
from shipper.text import split_utf8

DAY_MS = 24 * 3600 * 1000
NOW_MS = 1_790_000_000_000
BLOCK = 7

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
ascii_lines = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=200)
blocks = st.one_of(  # blocks of plain ASCII lines (the usual case) and blocks that hold anything
    st.lists(st.tuples(timestamps, ascii_lines), min_size=1, max_size=60),
    st.lists(st.tuples(timestamps, st.one_of(ascii_lines, messages)), min_size=1, max_size=60),
)


def queue_of(records, max_event_size, segment=1, start=0):
    """A queue holding the records (timestamp_ms, message) of one block, added as one block."""
    queue = EventQueue()
    queue.add([t * 1_000_000 + 999_999 for t, _ in records], [m for _, m in records], BLOCK, start, segment,
              max_event_size)
    return queue


def expected_events(records, max_event_size, start=0):
    """(place, event) of each event of the records, made record by record."""
    return [((BLOCK, index, part), {"timestamp": t, "message": text})
            for index, (t, message) in enumerate(records, start)
            for part, text in enumerate(event_messages(message, max_event_size))]


def places(batch: Batch):
    return [run.place(offset) for run in batch.runs for offset in range(run.count)]


def drain(queue):
    batches = []
    while queue:
        batch = queue.take()
        assert batch, "take must always make progress"
        batches.append(batch)
    assert queue.size == 0 and not queue.runs
    return batches


def cost(events):
    return sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)


def assert_within_limits(batch, max_event_size):
    assert 1 <= len(batch) <= MAX_BATCH_EVENTS
    assert cost(batch.events) <= MAX_BATCH_BYTES
    assert max(batch.times) - min(batch.times) <= MAX_BATCH_SPAN_MS < DAY_MS
    assert batch.times == [e["timestamp"] for e in batch.events]
    assert batch.size == cost(batch.events) - EVENT_OVERHEAD * len(batch)
    for event in batch.events:
        assert 1 <= len(event["message"].encode()) <= max_event_size - EVENT_OVERHEAD


def assert_full(batch, following):
    """A batch ends only where the next event would break a limit."""
    times = [*batch.times, following["timestamp"]]
    assert (len(batch) == MAX_BATCH_EVENTS or cost([*batch.events, following]) > MAX_BATCH_BYTES
            or max(times) - min(times) > MAX_BATCH_SPAN_MS)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(timestamps, messages), min_size=1, max_size=60), event_sizes)
def test_no_batch_breaks_a_limit_and_every_record_is_sent_whole_in_order(records, max_event_size):
    queue = queue_of(records, max_event_size)

    batches = drain(queue)

    for batch, following in itertools.zip_longest(batches, batches[1:]):
        assert_within_limits(batch, max_event_size)
        if following is not None:
            assert_full(batch, following.events[0])
    expected = expected_events(records, max_event_size)
    assert [e for b in batches for e in b.events] == [event for _, event in expected]  # in order, each once
    assert [p for b in batches for p in places(b)] == [place for place, _ in expected]
    assert [(b.first, b.last) for b in batches] == [(places(b)[0], places(b)[-1]) for b in batches]
    assert sum(b.records for b in batches) == len(records)  # a split record counts once
    for index, (_, message) in enumerate(records):
        pieces = [e["message"] for b in batches for e, p in zip(b.events, places(b), strict=True) if p[1] == index]
        assert "".join(pieces) == (message or " ")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 25_000), st.integers(0, 40))
def test_many_small_events_are_cut_at_ten_thousand_or_one_mebibyte(count, length):
    queue = queue_of([(NOW_MS, "m" * length)] * count, 256 * 1024)

    batches = drain(queue)

    for batch, following in itertools.zip_longest(batches, batches[1:]):
        assert_within_limits(batch, 256 * 1024)
        if following is not None:
            assert_full(batch, following.events[0])
    assert sum(map(len, batches)) == count


@settings(max_examples=200, deadline=None)
@given(blocks, st.integers(0, 5), st.one_of(event_sizes, st.sampled_from([EVENT_OVERHEAD + 150, EVENT_OVERHEAD + 200])))
def test_a_blocks_events_are_the_events_of_its_records_one_by_one_in_order(records, start, max_event_size):
    one_by_one = EventQueue()
    for index, (t, message) in enumerate(records, start):
        one_by_one.add([t * 1_000_000 + 999_999], [message], BLOCK, index, 1, max_event_size)

    queue = queue_of(records, max_event_size, start=start)

    expected = expected_events(records, max_event_size, start)
    assert queue.events == one_by_one.events == [event for _, event in expected]  # milliseconds cut, not rounded
    assert queue.sizes == one_by_one.sizes == [len(e["message"].encode()) for _, e in expected]
    assert queue.times == [e["timestamp"] for _, e in expected]
    assert queue.runs == one_by_one.runs
    assert queue.size == sum(queue.sizes) + EVENT_OVERHEAD * len(queue)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(timestamps, st.one_of(ascii_lines, messages)), min_size=1, max_size=30), st.data())
def test_a_batch_recorded_before_a_restart_is_taken_again_up_to_its_last_place(records, data):
    queue = queue_of(records, 1024)
    expected = expected_events(records, 1024)
    all_places = [place for place, _ in expected]
    last = data.draw(st.sampled_from(all_places))

    through = queue.count_through(last)
    taken = queue.take(through)

    assert through == all_places.index(last) + 1
    assert places(taken) == all_places[:len(taken)]
    if len(taken) < through:  # only a limit of the API cuts it short
        assert_full(taken, expected[len(taken)][1])
    if queue:
        assert queue.head() == all_places[len(taken)]


@given(st.lists(timestamps, min_size=1, max_size=50))
def test_a_batch_is_sent_in_chronological_order_keeping_read_order_within_a_millisecond(times):
    queue = queue_of([(t, f"line {i}") for i, t in enumerate(times)], 256 * 1024)
    batch = Batch(queue.events, queue.times, sum(queue.sizes), list(queue.runs))  # every event, even over a day

    ordered = batch.chronological()

    assert [e["timestamp"] for e in ordered] == sorted(times)
    for a, b in itertools.pairwise(ordered):
        if a["timestamp"] == b["timestamp"]:
            assert int(a["message"].split()[1]) < int(b["message"].split()[1])


def test_segments_count_the_events_each_read_segment_holds():
    queue = queue_of([(NOW_MS, "a")] * 3, 1024, segment=4)
    queue.add([NOW_MS * 1_000_000] * 2, ["b", "c" * 1500], BLOCK, 3, 5, 1024)

    batch = queue.take()

    assert batch.segments() == {4: 3, 5: 1 + 2}
    assert batch.records == 5


def test_records_of_a_block_named_to_other_streams_leave_gaps_in_the_places():
    queue = EventQueue()
    for index in (0, 2, 3):  # record 1 went to another stream
        queue.add([NOW_MS * 1_000_000], [f"record {index}"], BLOCK, index, 1, 1024)

    batch = queue.take()

    assert places(batch) == [(BLOCK, 0, 0), (BLOCK, 2, 0), (BLOCK, 3, 0)]


@given(st.text(), st.integers(1, 100))
def test_split_pieces_join_to_the_message_and_never_cut_a_character(message, max_bytes):
    # before: a limit below a character's size (1-3 bytes) looped forever
    pieces = split_utf8(message, max_bytes)

    assert "".join(pieces) == message
    assert all(0 < len(p.encode("utf-8", "surrogatepass")) <= max_bytes or len(p) == 1 for p in pieces)


def test_an_empty_line_becomes_one_space_because_cloudwatch_refuses_empty_messages():
    queue = queue_of([(NOW_MS, "")], 256 * 1024)

    assert queue.events == [{"timestamp": NOW_MS, "message": " "}] and queue.sizes == [1]


def test_the_request_body_is_plain_put_log_events_json_without_a_sequence_token():
    queue = queue_of([(NOW_MS + 1, "b"), (NOW_MS, "a \"quoted\" é")], 256 * 1024)

    body = orjson.loads(request_body("/g", "s", queue.take().chronological()))

    assert body == {"logGroupName": "/g", "logStreamName": "s",
                    "logEvents": [{"timestamp": NOW_MS, "message": "a \"quoted\" é"},
                                  {"timestamp": NOW_MS + 1, "message": "b"}]}


def test_a_lone_surrogate_is_replaced_instead_of_failing_the_batch():
    queue = queue_of([(NOW_MS, "bad \udcff end")], 256 * 1024)

    body = orjson.loads(request_body("/g", "s", queue.take().events))

    assert body["logEvents"][0]["message"] == "bad \ufffd end"  # as the spool repairs it (shipper/text.py)


ENTITY_A = {"keyAttributes": {"Type": "Service", "Name": "a"}, "attributes": {}}
ENTITY_B = {"keyAttributes": {"Type": "Service", "Name": "b"}, "attributes": {}}


def test_a_batch_never_crosses_from_one_entity_to_the_next():
    queue = EventQueue()
    queue.add([NOW_MS * 10**6] * 3, ["a1", "a2", "a3"], BLOCK, 0, 1, 1024 * 1024, ENTITY_A)
    queue.add([NOW_MS * 10**6] * 2, ["b1", "b2"], BLOCK + 1, 0, 1, 1024 * 1024, ENTITY_B)
    queue.add([NOW_MS * 10**6], ["a4"], BLOCK + 2, 0, 1, 1024 * 1024, ENTITY_A)
    queue.add([NOW_MS * 10**6], ["a5"], BLOCK + 3, 0, 1, 1024 * 1024, ENTITY_A)

    batches = [queue.take() for _ in range(3)]

    assert [([e["message"] for e in b.events], b.entity) for b in batches] == [
        (["a1", "a2", "a3"], ENTITY_A), (["b1", "b2"], ENTITY_B), (["a4", "a5"], ENTITY_A)]
    assert len(queue) == 0 and not queue.entities
    body = orjson.loads(request_body("g", "s", batches[1].events, batches[1].entity))
    assert body["entity"] == ENTITY_B


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.sampled_from([None, "a", "b"])), min_size=1, max_size=30))
def test_every_event_leaves_with_the_entity_it_came_with(runs):
    queue = EventQueue()
    sent_with = []
    for n, (size, name) in enumerate(runs):
        entity = None if name is None else {"keyAttributes": {"Type": "Service", "Name": name}, "attributes": {}}
        queue.add([NOW_MS * 10**6] * size, [f"{n}-{i}" for i in range(size)], BLOCK + n, 0, 1, 4096, entity)
        sent_with += [name] * size

    received = []
    while len(queue):
        batch = queue.take()
        name = None if batch.entity is None else batch.entity["keyAttributes"]["Name"]
        received += [name] * len(batch)

    assert received == sent_with

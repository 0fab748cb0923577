"""Records as JSON objects and their times as RFC 3339 text: the block-at-once forms give exactly the
bytes and texts of the one-record-at-a-time forms, whatever the block holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.buffer.spool import StoredBlock
from shipper.record import rfc3339, rfc3339_texts
from shipper.sinks.encoding import json_object, json_objects

NS = 1_000_000_000
times = st.integers(min_value=0, max_value=2**63 - 1)
near_times = st.integers(min_value=10**18 - 5 * NS, max_value=10**18 + 2 * 3600 * NS)  # 2001, spans past an hour
keys = st.sampled_from(["stream", "n", "host", "message", "timestamp", "log", "ключ"]) | st.text(max_size=4)
values = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates too
mappings = st.none() | st.dictionaries(keys, values | st.dictionaries(keys, values, max_size=2), max_size=4)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(times | near_times, max_size=20))
def test_a_blocks_times_read_as_each_time_alone(values):
    assert rfc3339_texts(values) == [rfc3339(value) for value in values]


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(any_text, min_size=1, max_size=12), data=st.data())
def test_each_json_object_of_a_block_is_the_records_own_bytes(messages, data):
    count = len(messages)
    shared = data.draw(st.lists(mappings, min_size=1, max_size=3))
    fields = [shared[data.draw(st.integers(0, len(shared) - 1))] for _ in range(count)]  # shared, as the spool does
    common = data.draw(st.dictionaries(st.sampled_from(["host", "file", "kubernetes", "timestamp"]),
                                       st.text(max_size=6), max_size=3))
    stamps = data.draw(st.lists(near_times | times, min_size=count, max_size=count))
    start = data.draw(st.integers(0, count))
    block = StoredBlock(7, "app", common, stamps, messages, fields, start)

    objects = json_objects(block)

    assert objects == [json_object(common, block.record(index)) for index in range(start, count)]


@pytest.mark.parametrize("compiled", [True, False], ids=["kernel", "reference"])
def test_quotes_commas_and_backslashes_in_messages_stay_inside_their_own_records(compiled, monkeypatch):
    if not compiled:
        monkeypatch.setattr(kernels, "ndjson", None)
    messages = ['","', '\\', '"', 'a","b', '\\","\\', '', ',', '"",""', 'ends in a quote and a comma",', 'next',
                'ends in a backslash\\', 'next']
    block = StoredBlock(1, "app", {"host": "h"}, [10**18 + i for i in range(len(messages))], messages,
                        [{"stream": "stdout"}] * len(messages), 0)

    objects = json_objects(block)

    assert objects == [json_object({"host": "h"}, block.record(index)) for index in range(len(messages))]

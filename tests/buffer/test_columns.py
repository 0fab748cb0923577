"""The columnar layout of a block's records: whatever goes in comes out, in order."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from shipper.buffer import columns

STREAMS = [{"stream": "stdout"}, {"stream": "stderr"}]  # shared by many records, as sources make them

texts = st.text(st.characters(blacklist_categories=["Cs"]))  # sources never pass lone surrogates on
fields = st.one_of(st.none(), st.sampled_from(STREAMS),
                   st.dictionaries(st.text(max_size=5), st.one_of(st.integers(-10, 10), texts, st.none()), max_size=3))
records = st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), texts, fields), min_size=1, max_size=50)


@given(records)
def test_every_record_comes_back_as_it_went_in(block):
    timestamps, messages, decoded_fields = columns.decode(columns.encode(block))

    assert list(zip(timestamps, messages, decoded_fields, strict=True)) == block


def test_a_mapping_many_records_share_is_stored_once():
    block = [(i, f"line {i}", STREAMS[i % 2]) for i in range(1000)]

    stored = columns.encode(block)

    assert stored.field_values is not None
    assert stored.field_values.count(b"stdout") == 1
    assert len(stored.field_refs or b"") == 4 * len(block)


def test_records_without_fields_store_no_field_columns():
    stored = columns.encode([(1, "a", None), (2, "b", None)])

    assert (stored.field_values, stored.field_refs) == (None, None)
    assert columns.decode(stored)[2] == [None, None]


def test_records_that_all_have_the_same_fields_store_them_once_without_references():
    stored = columns.encode([(1, "a", STREAMS[0]), (2, "b", STREAMS[0])])

    assert (stored.field_values, stored.field_refs) == (b'[{"stream":"stdout"}]', None)
    assert columns.decode(stored)[2] == [STREAMS[0], STREAMS[0]]


def test_an_empty_block_round_trips():
    assert columns.decode(columns.encode([])) == ([], [], [])


@given(records, st.lists(st.booleans(), min_size=50, max_size=50))
def test_fields_held_as_their_json_text_are_stored_as_they_are_and_read_back_as_mappings(block, as_text):
    """A compiled transform's fields (bytes: JSON text), alone or beside mappings, in a block that
    needs repairing or not."""
    held = [(t, m, orjson.dumps(f) if f is not None and text else f)
            for (t, m, f), text in zip(block, as_text, strict=False)]
    broken = [*held, (2**64, "out of range", b'{"a":1}')]

    timestamps, messages, decoded_fields = columns.decode(columns.encode(held))
    repaired, repairs = columns.encode_total(broken, 7)

    assert list(zip(timestamps, messages, decoded_fields, strict=True)) == block
    assert columns.decode(repaired)[2] == [*(f for _, _, f in block), {"a": 1}]
    assert repairs == {"timestamp_out_of_range": 1}

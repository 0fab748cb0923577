"""The ndjson kernel (shipper/kernels/_ndjson.c) gives exactly the JSON objects of the reference
(sinks/encoding.py: json_objects on the Python path, and json_object record by record) on any block:
messages of any code points (every control character, quotes, backslashes, DEL, non-ASCII, lone
surrogates), times anywhere in 64 bits, shared and distinct fields mappings, any start; and takes the
blocks a node's logs make."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.buffer.spool import StoredBlock
from shipper.sinks import encoding
from shipper.sinks.encoding import json_object, json_objects

pytestmark = pytest.mark.skipif(kernels.ndjson is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")

NS = 1_000_000_000
T0 = 1_795_342_500_123_456_789
times = st.one_of(st.integers(T0 - 10**13, T0 + 10**13), st.integers(-(2**63), 2**63 - 1),
                  st.sampled_from([0, -1, NS - 1, NS, 10**18 - 1, 10**18, 2**63 - 1]))
controls = st.text(st.characters(max_codepoint=0x20) | st.sampled_from('",\\\x7f/é\u2028'), max_size=12)
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)  # lone surrogates too
keys = st.sampled_from(["stream", "n", "ключ", "log"]) | st.text(max_size=4)
values = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats() | controls
mappings = st.none() | st.dictionaries(keys, values | st.dictionaries(keys, values, max_size=2), max_size=3)


def on_reference(block: StoredBlock) -> list[bytes | None]:
    saved, kernels.ndjson = kernels.ndjson, None
    try:
        return json_objects(block)
    finally:
        kernels.ndjson = saved


@st.composite
def blocks(draw: st.DrawFn) -> StoredBlock:
    messages = draw(st.lists(st.one_of(controls, any_text, st.text(max_size=40)), min_size=1, max_size=15))
    shared = draw(st.lists(mappings, min_size=1, max_size=3))
    fields = [shared[draw(st.integers(0, len(shared) - 1))] for _ in messages]  # shared, as the spool does
    stamps = [draw(times) for _ in messages]
    common = draw(st.sampled_from([{"host": "node-1"}, {}, {"host": "n", "kubernetes": {"pod_name": "p\n"}}]))
    return StoredBlock(7, "app", common, stamps, messages, fields, draw(st.integers(0, len(messages))))


@settings(max_examples=3000, deadline=None)
@given(blocks())
def test_the_kernel_makes_exactly_the_references_objects(block):
    made = json_objects(block)

    assert made == on_reference(block)
    assert made == [json_object(block.common, block.record(index)) for index in range(block.start,
                                                                                      len(block.messages))]


def test_the_kernel_takes_a_containers_block_and_escapes_as_orjson_does():
    messages = ['plain', 'tab\there "quoted" back\\slash', '\x00\x1f\x7f', 'é ü 中 😀', '']
    fields = [{"stream": "stdout"}] * len(messages)
    tails = [encoding._tail({"host": "h"}, fields[0])] * len(messages)
    block = StoredBlock(1, "app", {"host": "h"}, [T0 + n for n in range(len(messages))], messages, fields, 0)

    made = kernels.ndjson.objects(block.timestamps, block.messages, tails, 0)

    assert made is not None
    assert made == on_reference(block)
    assert made[2] == b'{"timestamp":"2026-11-22T10:15:00.123456791Z","message":"\\u0000\\u001f\x7f","host":"h",' \
                      b'"stream":"stdout"}'


@pytest.mark.parametrize(("timestamps", "messages"), [
    ([T0, -1], ["a", "b"]),  # a time before 1970
    ([T0, T0], ["a", "\ud800"]),  # a lone surrogate: the reference repairs that record alone
    ([T0, 2**64], ["a", "b"]),  # past 64 bits
])
def test_what_the_kernel_does_not_take_it_hands_back(timestamps, messages):
    assert kernels.ndjson.objects(timestamps, messages, [b'"}'] * 2, 0) is None

"""The syslog kernel (shipper/kernels/_syslog.c) gives exactly the bytes of the Python reference, on any
block: times anywhere in (and past) 64 bits, messages with any code point (lone surrogates, NUL,
newlines, backslashes, characters of 1 to 4 bytes), messages at and past the size limit, up to and past
the kernel's 8 heads, any `start`, both framings and both newline policies, header values that cannot
be encoded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.buffer.spool import StoredBlock
from shipper.sinks.syslog.config import SyslogOptions
from shipper.sinks.syslog.encoder import KERNEL_HEADS, Encoder

T0 = 1_795_342_500_123_456_789

pytestmark = pytest.mark.skipif(kernels.syslog is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")


def encoders(**overrides: object) -> tuple[Encoder, Encoder]:
    options = SyslogOptions.model_validate({
        "type": "syslog", "inputs": ["app"], "address": "localhost:6514", "app_name": "{app}",
        "structured_data": {"meta@1": {"host": "{host}", "stream": "{stream}"}}, **overrides})
    return Encoder(options, compiled=True), Encoder(options, compiled=False)


any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
usual_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
times = st.one_of(st.integers(T0 - 10**12, T0 + 10**13), st.integers(-(2**63), 2**63 - 1),
                  st.sampled_from([0, 1, 999_999_999, 10**18 - 1, 10**18, 2**63 - 1, -1, 2**63, 2**70]))
# the fields mapping of each record: one of a few shared ones (a block's records share theirs)
MAPPINGS = [None, {"stream": "stderr"}, {"app": "zürich", "stream": "stdout"}, {"severity": 3}] + [
    {"app": f"app-{n}"} for n in range(KERNEL_HEADS + 2)]


@st.composite
def blocks(draw: st.DrawFn) -> StoredBlock:
    count = draw(st.integers(0, 14))
    heads = draw(st.integers(1, len(MAPPINGS)))
    records = [(draw(times), draw(st.one_of(usual_text, any_text)), MAPPINGS[draw(st.integers(0, heads - 1))])
               for _ in range(count)]
    stamps, messages, fields = (list(column) for column in zip(*records, strict=True)) if records else ([], [], [])
    if draw(st.booleans()) and messages:  # a message at the size limit's edge
        at = draw(st.integers(0, count - 1))
        messages[at] = draw(st.sampled_from(["x", "é", "\u20ac", "\U0001f600"])) * draw(st.integers(300, 600))
    common = {"host": draw(st.one_of(st.just("node-1"), any_text)), "kubernetes": {"namespace": "prod"}}
    return StoredBlock(1, "app", common, stamps, messages, fields, draw(st.integers(0, count)))


@settings(max_examples=2000, deadline=None)
@given(blocks(), st.sampled_from(["octet_counting", "newline"]), st.sampled_from(["escape", "split"]),
       st.integers(480, 1200))
def test_the_kernel_frames_a_block_exactly_as_the_reference(block, framing, newlines, max_size):
    compiled, reference = encoders(framing=framing, newlines=newlines, max_message_size=max_size)
    messages = block.messages[block.start:]

    assert compiled._batch(block, messages) == reference._batch(block, messages)
    assert compiled.encode([block]) == reference.encode([block])
    assert compiled.format.anomalies == reference.format.anomalies
    assert compiled.oversize == reference.oversize


def test_the_kernel_takes_the_usual_block():
    compiled, _ = encoders()
    block = StoredBlock(1, "app", {"host": "node-1"}, [T0, T0 + 1_000_000_000], ["a", "b\u20ac"],
                        [None, {"stream": "stderr"}], 0)
    heads = compiled._heads(block.common, T0, block.fields, {id(f): f for f in block.fields})

    framed = compiled._compiled(block, heads, {id(f): f for f in block.fields})

    assert framed == (b"71 <14>1 2026-11-22T10:15:00.123456Z node-1 - - - [meta@1 host=\"node-1\"] a"
                      b"90 <11>1 2026-11-22T10:15:01.123456Z node-1 - - - [meta@1 host=\"node-1\" stream=\"stderr\"] "
                      b"b\xe2\x82\xac")


@pytest.mark.parametrize(("times", "messages", "fields", "start"), [
    ([T0], ["a"], [None, None], 0),  # lists of different lengths
    ([T0], ["a"], [None], 2),  # start past the end
    ([T0], ["a"], [{}], 0),  # a mapping that is not one of the heads'
    ([-1], ["a"], [None], 0),  # a time before 1970
    ([2**63], ["a"], [None], 0),  # past 64 bits
    ([T0], ["\udcff"], [None], 0),  # no UTF-8 form
    ([T0], [b"a"], [None], 0),  # not a str
])
def test_the_kernel_leaves_what_it_does_not_take_to_the_reference(times, messages, fields, start):
    assert kernels.syslog.frames(times, messages, fields, start, (None,), ((b"<14>1 ", b" h - - - -"),), True) is None


def test_the_kernel_leaves_a_block_of_more_heads_than_it_scans_to_the_reference():
    heads = tuple((b"<14>1 ", b" h") for _ in range(KERNEL_HEADS + 1))
    mappings = tuple({"n": n} for n in range(KERNEL_HEADS + 1))

    assert kernels.syslog.frames([T0], ["a"], [mappings[0]], 0, mappings, heads, True) is None

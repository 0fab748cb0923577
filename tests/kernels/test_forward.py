"""The forward kernel (shipper/kernels/_forward.c) gives exactly the records the reference makes of a
PackedForward stream (protocol.add_packed_entries, then records_of): on any stream of entries of any
shape (times of every form, records with text, numbers of every width, nil, booleans, nested values,
raw bytes, reserved names, a message key twice, invalid UTF-8), cut or changed anywhere; and takes the
streams Fluent Bit and Fluentd send."""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.sources.forward.protocol import Message, ProtocolError, add_packed_entries, event_time
from shipper.sources.forward.records import packed_records, records_of

pytestmark = pytest.mark.skipif(kernels.forward is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")

NOW = 1_800_000_000_000_000_000
KEYS = ("log", "message")


def typed(records: list[Any]) -> list[Any]:
    """Records with each field's type beside its value: 1, 1.0 and True are equal in Python, but not
    the same field once stored."""
    def each(fields: Any) -> Any:
        return [(key, type(value), repr(value)) for key, value in fields.items()]
    return [(time_ns, text, each(fields)) for time_ns, text, fields in records]


def reference(packed: bytes, max_entries: int, keys: tuple[str, ...] = KEYS) -> Any:
    message = Message("app.web", [], None)
    try:
        add_packed_entries(message, packed, NOW, 1 << 20, max_entries)
    except ProtocolError as error:
        return f"protocol error ({error.kind})"
    anomalies: Counter[str] = Counter()
    made = records_of(message, list(keys), anomalies, {})
    return typed(made), message.anomalies + anomalies


def compiled(packed: bytes, max_entries: int, keys: tuple[str, ...] = KEYS) -> Any:
    made = packed_records("app.web", packed, max_entries, keys)
    return None if made is None else (typed(made), Counter())


def raw_map(pairs: list[tuple[Any, Any]]) -> bytes:
    """A msgpack map of these pairs, in order, duplicates kept (a dict cannot hold them)."""
    count = len(pairs)
    head = bytes([0x80 | count]) if count < 16 else b"\xde" + struct.pack(">H", count)
    return head + b"".join(msgpack.packb(key) + msgpack.packb(value) for key, value in pairs)


def packed_value(value: Any) -> bytes:
    if isinstance(value, tuple) and value and value[0] == "single":  # a float sent as float32
        return msgpack.packb(value[1], use_single_float=True)
    return msgpack.packb(value, unicode_errors="surrogatepass")  # a lone surrogate: invalid UTF-8 sent


entry_times = st.one_of(
    st.builds(event_time, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    st.builds(event_time, st.integers(1_600_000_000, 1_900_000_000), st.integers(0, 999_999_999)),
    st.integers(0, 2**40 + 5), st.integers(-(2**63), 2**64 - 1), st.floats(0, 2**41), st.booleans(), st.none(),
    st.builds(lambda t, m: [t, m], st.builds(event_time, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
              | st.integers(0, 2**41), st.sampled_from([{}, {"a": 1}, []])),
    st.builds(msgpack.Timestamp, st.integers(0, 2**33), st.integers(0, 999_999_999)),
)
names = st.sampled_from(["log", "message", "stream", "host", "tag", "kubernetes", "a", "b", "ü", "time"]) | st.text(
    max_size=4)
scalars = st.one_of(
    st.text(max_size=8), st.text(st.characters(codec=None, exclude_categories=()), max_size=4), st.none(),
    st.booleans(), st.integers(-(2**63), 2**64 - 1), st.integers(-200, 300), st.floats(),
    st.builds(lambda f: ("single", f), st.floats(width=32)))
values = scalars | st.binary(max_size=4) | st.lists(st.integers(-5, 5), max_size=2) | st.dictionaries(
    st.text(max_size=2), st.integers(-5, 5), max_size=2)
invalid_text = st.sampled_from([b"\xa2\xff\xfe", b"\xa1\x80", b"\xa3\xed\xa0\x80"])


nanoseconds = st.integers(0, 2**32 - 1) | st.sampled_from([999_999_999, 1_000_000_000, 1_500_000_000, 2**32 - 1])
good_times = st.one_of(
    st.builds(event_time, st.integers(0, 2**32 - 1), nanoseconds),
    st.integers(0, 2**33) | st.sampled_from([9_223_372_036, 9_223_372_037, 2**40 - 1]),
    st.builds(lambda t: [t, {}], st.builds(event_time, st.integers(0, 2**32 - 1), st.integers(0, 999_999_999))))


@st.composite
def records(draw: st.DrawFn, clean: bool) -> bytes:
    """A record map: with `clean`, of the shape clients send (a text message among scalars)."""
    keys = names.filter(lambda name: name not in KEYS) if clean else names
    pairs = draw(st.lists(st.tuples(keys, scalars if clean else st.one_of(scalars, scalars, values)), max_size=5))
    if clean or draw(st.booleans()):
        pairs.insert(draw(st.integers(0, len(pairs))), (draw(st.sampled_from(KEYS)), draw(st.text(max_size=20))))
    body = [packed_value(k) + packed_value(v) for k, v in pairs]
    if not clean and draw(st.integers(0, 4)) == 0 and body:  # invalid UTF-8 as a key or a value
        at = draw(st.integers(0, len(body) - 1))
        body[at] = draw(invalid_text) + packed_value(pairs[at][1]) if draw(st.booleans()) else (
            msgpack.packb(pairs[at][0]) + draw(invalid_text))
    count = len(body)
    head = bytes([0x80 | count]) if count < 16 else b"\xde" + struct.pack(">H", count)
    return head + b"".join(body)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Mostly streams of the usual shape (the kernel's to take), some with one entry of any other
    shape, and some cut or changed at any byte."""
    clean = draw(st.booleans())
    entries = [b"\x92" + msgpack.packb(draw(good_times)) + draw(records(True)) for _ in range(draw(st.integers(0, 6)))]
    if not clean and entries:
        kind = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(entries) - 1))
        if kind == 0:
            entries[at] = msgpack.packb(draw(values | scalars))  # not an entry
        elif kind == 1:
            entries[at] = msgpack.packb([draw(entry_times), draw(values)])  # a record that is not a map
        else:
            entries[at] = b"\x92" + msgpack.packb(draw(entry_times)) + draw(records(False))
    packed = b"".join(entries)
    if packed and not clean and draw(st.integers(0, 3)) == 0:  # cut or changed anywhere
        at = draw(st.integers(0, len(packed) - 1))
        packed = packed[:at] if draw(st.booleans()) else packed[:at] + bytes([draw(st.integers(0, 255))]) + packed[
            at + 1:]
    return packed


@settings(max_examples=3000, deadline=None)
@given(streams(), st.sampled_from([1, 2, 1000]), st.sampled_from([KEYS, ("message",), ("log",), ()]))
def test_the_kernel_makes_exactly_the_references_records_or_hands_the_stream_back(packed, max_entries, keys):
    made = compiled(packed, max_entries, keys)

    if made is not None:
        assert made == reference(packed, max_entries, keys)


def fluent_bit_stream(count: int, metadata: bool = False) -> bytes:
    """Entries as Fluent Bit's forward output sends a container's records (metadata: its 2.x+ form)."""
    def moment(n: int) -> Any:
        time = event_time(1_700_000_000 + n, n * 1000)
        return [time, {}] if metadata else time
    return b"".join(msgpack.packb([moment(n), {"log": f"line {n}", "stream": "stdout", "time": "2026-12-07",
                                               "container_id": "c" * 64, "pid": n, "ok": True, "ratio": 0.5}])
                    for n in range(count))


@pytest.mark.parametrize("metadata", [False, True])
def test_the_kernel_takes_fluent_bit_streams_and_shares_one_mapping_per_distinct_fields(metadata):
    packed = fluent_bit_stream(3, metadata) + msgpack.packb([5, {"message": "m", "host": "claimed"}])

    made = packed_records("app.web", packed, 1000, KEYS)

    assert made is not None
    assert typed(made) == reference(packed, 1000)[0]
    assert made[0][2] is not made[1][2]  # pid differs
    assert made[3] == (5_000_000_000, "m", {"tag": "app.web", "log": {"host": "claimed"}})


def test_records_with_the_same_other_pairs_share_one_fields_mapping():
    packed = b"".join(msgpack.packb([event_time(1, 0), {"stream": "stderr", "log": f"{n}"}]) for n in range(4))

    made = packed_records("app.web", packed, 1000, KEYS)

    assert made is not None
    assert len({id(fields) for _, _, fields in made}) == 1


@pytest.mark.parametrize("packed", [
    fluent_bit_stream(3)[:-1],  # cut short
    msgpack.packb([event_time(1, 0), {"other": 1}]),  # no message: the reference writes its JSON
    raw_map([("log", "a"), ("log", "b")]),  # not an entry
    b"\x92" + msgpack.packb(event_time(1, 0)) + raw_map([("log", "a"), ("log", "b")]),  # a message key twice
    msgpack.packb([event_time(1, 0), {"log": "x", "nested": {"a": 1}}]),
    msgpack.packb([1.5, {"log": "x"}]),
])
def test_what_the_kernel_does_not_take_it_hands_back_whole(packed):
    assert packed_records("app.web", packed, 1000, KEYS) is None


def test_more_entries_than_a_message_may_hold_are_handed_back_for_the_reference_to_refuse():
    packed = fluent_bit_stream(3)

    assert packed_records("app.web", packed, 2, KEYS) is None
    assert reference(packed, 2) == "protocol error (too_many_entries)"
    assert packed_records("app.web", packed, 3, KEYS) is not None

"""A connection's bytes into messages: the forward kernel's message-mode path gives exactly the records,
chunk acks, repairs and refusals of msgpack's stream decoder with `protocol.decode`, message by
message, whatever the stream holds and wherever the reads cut it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.sources.forward import framing
from shipper.sources.forward.framing import Framing
from shipper.sources.forward.protocol import ProtocolError, event_time
from shipper.sources.forward.records import records_of

NOW = 1_800_000_000_000_000_000
KEYS = ["log", "message"]
MAX_SIZE = 1 << 16

pytestmark = pytest.mark.skipif(kernels.forward is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")


def what_comes_of(reads: list[bytes], compiled: bool) -> tuple[list[Any], int, str | None]:
    """Each record (with each field's type) and each ack in order, the bytes the messages took, and the
    refusal that ended the connection, if one did."""
    connection = Framing(MAX_SIZE, 100, KEYS, compiled=compiled, clock=lambda: NOW)
    events: list[Any] = []
    taken = 0
    refusal = None
    try:
        for data in reads:
            for message, size in connection.messages(data):
                anomalies: Counter[str] = Counter()
                for time_ns, text, fields in records_of(message, KEYS, anomalies, {}):
                    events.append((time_ns, text, [(k, type(v), repr(v)) for k, v in fields.items()]))
                events += sorted((anomalies + message.anomalies).items())
                if message.chunk is not None:
                    events.append(("ack", message.chunk))
                taken += size
    except msgpack.BufferFull:
        refusal = "message_too_large"
    except ProtocolError as error:
        refusal = error.kind
    return events, taken, refusal


event_times = st.builds(event_time, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
times = st.one_of(event_times, event_times, st.integers(0, 2**34), st.floats(0, 2**34), st.none(), st.text(max_size=2),
                  st.builds(lambda t: [t, {}], st.builds(event_time, st.integers(0, 2**32 - 1), st.integers(0, 10))))
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=6)
usual_records = st.fixed_dictionaries({"log": st.text(max_size=12)}, optional={
    "stream": st.sampled_from(["stdout", "stderr"]), "container_name": st.text(max_size=4), "n": scalars,
    "host": scalars})
message_shaped = st.builds(lambda text: ["t", 1, {"log": text}], st.text(max_size=3))  # a field no kernel takes
records = st.one_of(
    usual_records, usual_records, usual_records,
    st.dictionaries(st.sampled_from(["log", "message", "a", "tag"]), scalars | st.binary(max_size=3) | message_shaped,
                    max_size=3),
    st.lists(st.integers(-9, 9), max_size=2))
chunks = st.builds(lambda c: {"chunk": c}, st.text(max_size=6))
options = st.one_of(st.none(), chunks, chunks, chunks,
                    st.sampled_from([{"chunk": 5}, {"chunk": "x" * 129}, {"size": 1}, {"chunk": "a", "b": [1]}, [],
                                     {"chunk": b"raw"}]))
tags = st.sampled_from(["docker.web", "docker.db", "t"])


@st.composite
def usual_messages(draw: st.DrawFn) -> bytes:
    """As Docker's fluentd driver sends them: a text record, perhaps a chunk id to ack."""
    parts = [draw(tags), draw(event_times), draw(usual_records)]
    if draw(st.booleans()):
        parts.append(draw(st.none() | chunks))
    return msgpack.packb(parts)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 29))
    tag = draw(tags)
    if kind <= 5 or kind >= 10:  # message mode
        parts = [tag, draw(times), draw(records)]
        if draw(st.booleans()):
            parts.append(draw(options))
        return msgpack.packb(parts)
    if kind == 6:  # PackedForward
        entries = b"".join(msgpack.packb([draw(times), draw(records)]) for _ in range(draw(st.integers(0, 3))))
        return msgpack.packb([tag, entries, draw(options)])
    if kind == 7:  # Forward
        return msgpack.packb([tag, [[draw(times), draw(records)] for _ in range(draw(st.integers(0, 2)))]])
    if kind == 8:
        return draw(st.sampled_from([b"\xc1", b"\xa2\xff\xfe", b"\x93\xa1t"]))  # not msgpack, bad UTF-8, cut short
    return msgpack.packb(draw(scalars | st.lists(scalars, max_size=5)))  # not a message


@settings(max_examples=1500, deadline=None)
@given(st.lists(usual_messages(), max_size=12) | st.lists(messages(), max_size=12), st.data())
def test_the_kernel_gives_what_message_by_message_decoding_gives_wherever_the_reads_cut(stream, data):
    whole = b"".join(stream)
    headers = [at for at, byte in enumerate(whole) if 0x80 <= byte <= 0xbf] or [0]  # maps, arrays, texts: often a
    cut_at = st.integers(0, len(whole)) | st.sampled_from(headers)  # cut there, the decoder has read all before
    cuts = sorted(data.draw(st.lists(cut_at, max_size=4)))
    reads = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]

    assert what_comes_of(reads, compiled=True) == what_comes_of(reads, compiled=False)


def docker_driver(count: int, ack_every: int) -> bytes:
    return b"".join(msgpack.packb(["docker.web", event_time(1_700_000_000, n),
                                   {"log": f"line {n}", "container_id": "c" * 64, "source": "stdout"},
                                   *([{"chunk": f"c{n}"}] if n % ack_every == ack_every - 1 else [])])
                    for n in range(count))


def test_the_kernel_takes_docker_driver_messages_in_groups_that_end_at_each_chunk():
    connection = Framing(MAX_SIZE, 100, KEYS)
    stream = docker_driver(10, 4)

    taken = list(connection.messages(stream[:-5])) + list(connection.messages(stream[-5:]))

    assert [(m.chunk, m.count) for m, _ in taken] == [("c3", 4), ("c7", 4), (None, 1), (None, 1)]
    assert sum(size for _, size in taken) == len(stream)
    assert all(m.records is not None for m, _ in taken)  # none went message by message


def test_a_message_cut_short_longer_than_the_pending_limit_goes_to_the_stream_decoder():
    connection = Framing(1 << 20, 100, KEYS)
    big = msgpack.packb(["t", 1, {"log": "x" * (framing.PENDING_LIMIT + 10)}])

    first = list(connection.messages(big[:framing.PENDING_LIMIT + 5]))
    rest = list(connection.messages(big[framing.PENDING_LIMIT + 5:]))

    assert first == []
    assert [(m.records, m.count, size) for m, size in rest] == [(None, 1, len(big))]


def option_map(pairs: list[tuple[str, object]]) -> bytes:
    return bytes([0x80 | len(pairs)]) + b"".join(msgpack.packb(k) + msgpack.packb(v) for k, v in pairs)


@pytest.mark.parametrize("option", [
    msgpack.packb({"chunk": "x" * 128}), msgpack.packb({"chunk": "x" * 129}), msgpack.packb({"chunk": "é" * 129}),
    option_map([("chunk", "a"), ("chunk", "b")]), option_map([("size", 1), ("chunk", "c")]), msgpack.packb([]),
    msgpack.packb({"chunk": 7}), msgpack.packb(None),
])
def test_each_option_a_message_may_carry_is_read_as_message_by_message_decoding_reads_it(option):
    message = b"\x94" + msgpack.packb("t") + msgpack.packb(event_time(1, 2)) + msgpack.packb({"log": "x"}) + option
    reads = [msgpack.packb(["t", event_time(1, 1), {"log": "before"}]) + message]

    assert what_comes_of(reads, compiled=True) == what_comes_of(reads, compiled=False)


def test_a_message_the_stream_decoder_holds_part_of_is_finished_by_it_when_the_next_read_comes():
    handed_back = msgpack.packb(["docker.web", event_time(1, 0), {"log": "x", 7: "an integer key"}])
    inner = msgpack.packb(["t", 1, {"log": "a message's shape, inside a field"}])
    held = msgpack.packb(["docker.web", event_time(1, 1), {"log": "y", "nested": "?"}, {"chunk": "c1"}])
    held = held.replace(msgpack.packb("?"), inner)
    cut = held.index(inner)  # msgpack has read every byte before it: its own count says all were taken
    reads = [handed_back + held[:cut], held[cut:] + msgpack.packb(["t", 2, {"log": "z"}])]

    events, taken, refusal = what_comes_of(reads, compiled=True)

    assert (events, taken, refusal) == what_comes_of(reads, compiled=False)
    assert [event[1] for event in events if event[0] != "ack"] == ["x", "y", "z"]
    assert ("ack", "c1") in events and taken == sum(map(len, reads)) and refusal is None

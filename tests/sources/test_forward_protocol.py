"""The forward protocol decoder: every mode and time form clients send, totality on hostile input,
the shared-key handshake and the decompression bound."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from functools import partial

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.sources.forward.handshake import Handshake
from shipper.sources.forward.protocol import (
    Message,
    ProtocolError,
    add_packed_entries,
    add_packed_entries_generally,
    decode,
    event_time,
    gunzip,
    unpacker,
)
from shipper.sources.forward.records import records_of

NOW = 1_800_000_000_000_000_000
T = event_time(1_700_000_000, 123_456_789)
T_NS = 1_700_000_000_123_456_789
MAX_ENTRIES = 1_000


def roundtrip(message) -> object:
    """As the server sees it: packed by a client, unpacked by the connection's decoder."""
    stream = unpacker(1 << 20, MAX_ENTRIES)
    stream.feed(msgpack.packb(message))
    (decoded,) = list(stream)
    return decoded


def test_message_mode_with_event_time_and_a_chunk():
    message = decode(roundtrip(["docker.web", T, {"log": "hello"}, {"chunk": "abc"}]), NOW, 1 << 20, MAX_ENTRIES)

    assert (message.tag, message.entries, message.chunk) == ("docker.web", [(T_NS, {"log": "hello"})], "abc")


def test_forward_mode_with_integer_float_and_fluent_bit_metadata_times():
    entries = [[1_700_000_000, {"log": "a"}], [1_700_000_000.5, {"log": "b"}], [[T, {"otlp": {}}], {"log": "c"}]]

    message = decode(roundtrip(["app", entries]), NOW, 1 << 20, MAX_ENTRIES)

    assert [t for t, _ in message.entries] == [1_700_000_000_000_000_000, 1_700_000_000_500_000_000, T_NS]
    assert message.chunk is None


@pytest.mark.parametrize("compressed", [False, True])
def test_packed_forward_plain_and_gzip(compressed):
    packed = b"".join(msgpack.packb([T, {"log": f"line {n}"}]) for n in range(3))
    option = {"chunk": "c1", "size": 3}
    if compressed:
        packed, option["compressed"] = gzip.compress(packed), "gzip"

    message = decode(roundtrip(["app", packed, option]), NOW, 1 << 20, MAX_ENTRIES)

    assert [r["log"] for _, r in message.entries] == ["line 0", "line 1", "line 2"] and message.chunk == "c1"


def test_bad_entries_are_dropped_and_bad_times_repaired_one_by_one_counted():
    entries = [[T, {"log": "ok"}], "not an entry", ["no time", {"log": "repaired"}], [T, "not a map"]]

    message = decode(roundtrip(["app", entries]), NOW, 1 << 20, MAX_ENTRIES)
    anomalies: Counter[str] = Counter()
    records = records_of(message, ["log", "message"], anomalies, {})

    assert message.anomalies == Counter({"malformed_entry": 1, "bad_time": 1})
    assert [(t, text) for t, text, _ in records] == [(T_NS, "ok"), (NOW, "repaired"), (T_NS, '"not a map"')]
    assert anomalies == Counter({"malformed": 1})


def test_records_share_a_fields_mapping_only_when_their_other_keys_are_the_same_values_of_the_same_types():
    # before: 1, 1.0 and True are equal in Python, so a record saying true got the mapping saying 1
    values = [1, True, 1.0, 1, "1", True]
    entries = [[T, {"log": f"line {n}", "x": value, 1: "int key"}] for n, value in enumerate(values)]
    entries.append([T, {"log": "last", "x": 1, True: "int key"}])
    message = decode(roundtrip(["app", entries]), NOW, 1 << 20, MAX_ENTRIES)

    records = records_of(message, ["log", "message"], Counter(), {})

    assert [fields["x"] for _, _, fields in records[:-1]] == values
    assert [type(fields["x"]) for _, _, fields in records[:-1]] == list(map(type, values))
    assert records[0][2] is records[3][2] and records[1][2] is records[5][2]  # equal ones still shared
    assert "True" in records[-1][2] and "1" not in records[-1][2]


def test_a_record_becomes_message_fields_and_tag_and_cannot_claim_the_agents_fields():
    message = decode(roundtrip(["docker.web", T, {"log": "hi", "container_name": "/web", "host": "evil",
                                                 "kubernetes": {"pod_name": "other"}, b"raw": b"\xff"}]),
                     NOW, 1 << 20, MAX_ENTRIES)

    ((_, text, fields),) = records_of(message, ["log", "message"], Counter(), {})

    assert text == "hi"
    assert fields == {"container_name": "/web", "raw": "\ufffd", "tag": "docker.web",
                      "log": {"host": "evil", "kubernetes": {"pod_name": "other"}}}


@pytest.mark.parametrize("message", [
    "just a string", ["only a tag"], [1, T, {}], ["tag", T, {}, {}, "extra"], ["tag", T, {}, "option not a map"],
    ["tag", b"\xc1\xc1", {}],
])
def test_what_is_not_the_protocol_raises_protocol_error(message):
    with pytest.raises(ProtocolError):
        decode(roundtrip(message), NOW, 1 << 20, MAX_ENTRIES)


def test_gzip_that_would_inflate_past_the_limit_is_refused():
    bomb = gzip.compress(b"\0" * (10 << 20))

    with pytest.raises(ProtocolError, match="max_message_size"):
        gunzip(bomb, 1 << 20)
    assert gunzip(gzip.compress(b"a") + gzip.compress(b"b"), 10) == b"ab"  # concatenated members


msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(message=st.lists(msgpack_values, max_size=5) | msgpack_values)
def test_any_msgpack_object_decodes_or_raises_protocol_error_and_records_are_total(message):
    try:
        decoded = decode(roundtrip(message), NOW, 1 << 20, MAX_ENTRIES)
    except ProtocolError:
        return
    records = records_of(decoded, ["log"], Counter(), {})
    assert len(records) == len(decoded.entries)
    assert all(isinstance(text, str) and isinstance(t, int) for t, text, _ in records)


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_on_a_connection_decode_or_raise_protocol_error(data):
    stream = unpacker(1 << 16, MAX_ENTRIES)
    stream.feed(data)
    try:
        for message in stream:
            decode(message, NOW, 1 << 16, MAX_ENTRIES)
    except (ProtocolError, ValueError, TypeError, msgpack.UnpackException):
        pass  # the connection is closed (server.py turns the msgpack errors into ProtocolError)


def ping(handshake_helo: bytes, key: str, hostname: str = "client", user: tuple[str, str] | None = None) -> list:
    helo = msgpack.unpackb(handshake_helo)
    nonce, auth = helo[1]["nonce"], helo[1]["auth"]
    salt = b"0123456789abcdef"
    digest = hashlib.sha512(salt + hostname.encode() + nonce + key.encode()).hexdigest()
    message = ["PING", hostname, salt, digest]
    if user is not None:
        message += [user[0], hashlib.sha512(auth + user[0].encode() + user[1].encode()).hexdigest()]
    return msgpack.unpackb(msgpack.packb(message))


def test_the_handshake_takes_the_right_key_and_user_and_proves_the_server_knows_the_key():
    server = Handshake("s3cret", "shipper", {"alice": "pw"})

    pong, refusal = server.answer(ping(server.helo(), "s3cret", user=("alice", "pw")))

    assert refusal is None
    _, ok, _, hostname, digest = msgpack.unpackb(pong)
    assert ok and hostname == "shipper"
    assert digest == hashlib.sha512(b"0123456789abcdef" + b"shipper" + server.nonce + b"s3cret").hexdigest()


@pytest.mark.parametrize(("key", "user", "reason"), [
    ("wrong", ("alice", "pw"), "shared key mismatch"),
    ("s3cret", ("alice", "wrong"), "username/password mismatch"),
    ("s3cret", ("mallory", "pw"), "username/password mismatch"),
    ("s3cret", None, "username and password required"),
])
def test_the_handshake_refuses_a_wrong_key_or_user_and_says_why_without_the_secrets(key, user, reason):
    server = Handshake("s3cret", "shipper", {"alice": "pw"})

    pong, refusal = server.answer(ping(server.helo(), key, user=user))

    assert refusal == reason
    assert msgpack.unpackb(pong)[:3] == ["PONG", False, reason] and b"s3cret" not in pong


def test_records_of_one_container_share_one_fields_mapping_and_a_record_without_message_is_its_json():
    entries = [[T, {"log": f"line {n}", "container_name": "/web"}] for n in range(3)] + [[T, {"other": 1}]]
    message = decode(roundtrip(["docker.web", entries]), NOW, 1 << 20, MAX_ENTRIES)

    records = records_of(message, ["log"], Counter(), {})

    assert [text for _, text, _ in records] == ["line 0", "line 1", "line 2", '{"other":1}']
    assert records[0][2] is records[1][2] is records[2][2]
    assert records[0][2] == {"container_name": "/web", "tag": "docker.web"}
    assert records[3][2] == {"other": 1, "tag": "docker.web"}


def packed_entries(packed: bytes, add, max_entries: int = MAX_ENTRIES) -> tuple[list, Counter[str]] | str:
    """What a way of adding a packed stream's entries makes of it: each value with its type (1, 1.0 and
    True are equal in Python but not the same field), or that it raised ProtocolError."""
    message = Message("app", [], None)
    try:
        add(message, packed, NOW, 1 << 20, max_entries)
    except ProtocolError as error:
        return f"protocol error ({error.kind})"
    typed = [(t, [(k, type(v), repr(v)) for k, v in record.items()] if isinstance(record, dict) else repr(record))
             for t, record in message.entries]
    return typed, message.anomalies


def test_a_truncated_last_entry_of_a_packed_stream_is_counted_as_malformed():
    packed = msgpack.packb([T, {"log": "whole"}]) + msgpack.packb([T, {"log": "cut short"}])[:-3]

    message = decode(roundtrip(["app", packed]), NOW, 1 << 20, MAX_ENTRIES)

    assert [r["log"] for _, r in message.entries] == ["whole"]
    assert message.anomalies == Counter({"malformed_entry": 1})


entry_times = (st.builds(event_time, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
               | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.booleans() | st.none()
               | st.builds(msgpack.Timestamp, st.integers(-(2**33), 2**33), st.integers(0, 999_999_999))
               | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=9)))
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=8)
common_records = st.dictionaries(st.text(max_size=5), scalars, max_size=4)
entries = st.one_of(
    st.tuples(entry_times, common_records),
    st.tuples(st.tuples(entry_times, st.dictionaries(st.text(max_size=3), msgpack_values, max_size=2)),
              common_records),
    st.tuples(entry_times, msgpack_values),  # anything as the record, nested maps and raw bytes included
    msgpack_values,  # not an entry
)
invalid_text = st.sampled_from([b"\xa2\xff\xfe", b"\xa1\x80", b"\xa3\xed\xa0\x80"])  # str headers, bad UTF-8


@settings(max_examples=500, deadline=None)
@given(stream=st.lists(entries | invalid_text, max_size=8), tail=st.binary(max_size=3))
def test_the_common_shape_decoder_gives_what_the_general_decoder_gives_on_any_stream(stream, tail):
    packed = b"".join(item if isinstance(item, bytes) else msgpack.packb(item) for item in stream) + tail

    expected = packed_entries(packed, add_packed_entries_generally)

    assert packed_entries(packed, add_packed_entries) == expected
    for size in (len(stream), len(stream) - 1, len(stream) + 1, -1, "3"):  # the client's hint, right or not
        assert packed_entries(packed, partial(add_packed_entries, size=size)) == expected
    for limit in (1, 3):  # and when there are more entries than max_entries_per_message
        bounded = packed_entries(packed, add_packed_entries_generally, limit)
        assert packed_entries(packed, add_packed_entries, limit) == bounded
        assert packed_entries(packed, partial(add_packed_entries, size=len(stream)), limit) == bounded


@pytest.mark.parametrize("size", [None, 1, 2])
def test_metadata_nested_deeper_than_pythons_recursion_limit_is_decoded_as_the_general_decoder_does(size):
    metadata: dict = {}
    inner = metadata
    for _ in range(1_020):  # msgpack takes 1,024 levels; Python's recursion limit is 1,000
        inner["a"] = inner = {}
    packed = msgpack.packb([[T, metadata], {"log": "deep"}])

    message = Message("app", [], None)
    add_packed_entries(message, packed, NOW, 1 << 20, MAX_ENTRIES, size)

    assert message.entries == [(T_NS, {"log": "deep"})]


@pytest.mark.parametrize("levels", [65, 1_000])
def test_a_record_nested_past_max_depth_is_discarded_and_counted_and_its_message_goes_on(levels):
    deep: object = "bottom"
    for _ in range(levels):
        deep = {"a": [deep]} if levels < 100 else {"a": deep}
    message = decode(roundtrip(["app", [[T, {"log": "deep", "x": deep}], [T, [deep]], [T, {"log": "kept"}]]]),
                     NOW, 1 << 20, MAX_ENTRIES)
    anomalies: Counter[str] = Counter()

    records = records_of(message, ["log"], anomalies, {}, max_depth=64)

    assert [text for _, text, _ in records] == ["kept"]
    assert anomalies == Counter(too_deep=2)


def test_a_record_the_conversion_fails_on_is_discarded_alone():
    class Unhashable:
        def __hash__(self) -> int:
            raise RuntimeError("a bug of ours")

    message = Message("app", [(T_NS, {"log": "x", "v": Unhashable()}), (T_NS, {"log": "kept"})], None)
    anomalies: Counter[str] = Counter()

    records = records_of(message, ["log"], anomalies, {})

    assert [text for _, text, _ in records] == ["kept"] and anomalies == Counter(malformed_entry=1)

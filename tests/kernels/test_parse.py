"""The parse kernels (shipper/kernels/_parse.c) store exactly what the reference stores: on any block
(JSON of any shape, spacing and escapes; access log lines of every variant the combined format
allows; either cut or changed anywhere; text that is neither, lone surrogates; fields of any kind), a
`parse` whose output only the spool reads gives records that the spool reads back equal, byte for
byte once written again with sorted keys, to the reference's, with the same unparsed and untimed
counts; and every fields text a kernel makes is JSON orjson reads."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.buffer import columns
from shipper.record import FIELDS, RESERVED, Block
from tests.transforms.helpers import make

pytestmark = pytest.mark.skipif(kernels.parse is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")

NAMES = st.sampled_from(["a", "b", "time", "stream", "log", "t", "é", "a\"b", "", *sorted(RESERVED)])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8"), max_size=8),
    st.sampled_from(["2026-11-22T10:15:00Z", "2026-11-22T10:15:00.5+01:00", "not a time", "\\u00e9", "\u2028"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(NAMES, inner, max_size=4)), max_leaves=12)
objects = st.dictionaries(NAMES, json_values, max_size=6)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """An object as some writer would write it: any spacing, escaped or not, nested deep at times."""
    value: Any = draw(objects)
    for _ in range(draw(st.sampled_from([0, 0, 0, 62, 63, 64, 70]))):
        value = {"d": value}
    text = json.dumps(value, ensure_ascii=draw(st.booleans()),
                      indent=draw(st.sampled_from([None, None, 1, "\t"])),
                      separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")])))
    return draw(st.sampled_from(["", " ", "\n", "\r\n\t"])) + text + draw(st.sampled_from(["", " ", "\n", " x"]))


@st.composite
def changed(draw: st.DrawFn, text: str) -> str:
    """The text cut, or with a character put in or taken out, somewhere."""
    at = draw(st.integers(0, len(text)))
    change = draw(st.sampled_from(["cut", "insert", "delete"]))
    if change == "cut":
        return text[:at]
    if change == "insert":
        return text[:at] + draw(st.sampled_from([*'{}[]",:\\ 0e-.tnu\x00\x1f\ud800', "\ud83d"])) + text[at:]
    return text[:at] + text[at + 1:]


messages = st.one_of(
    json_texts(), json_texts(), json_texts().flatmap(changed),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=30),
    st.sampled_from(["{}", " { } ", "{", "[]", "1", '"x"', "null", '{"a":1}{', '{"a":01}', '{"a":1e5}',
                     '{"a":1e400}', '{"a":' + "9" * 400 + "}", '{"a":18446744073709551616}',
                     '{"a":"\\ud83d\\ude00"}', "\ufeff{}", '{"a":"\x01"}',
                     '{"time":"2026-11-22T10:15:00Z","time":5}', '{"time":"2026-11-22T10:15:00Z"}']),
    st.just(7))  # not a str: unparsed
record_fields = st.one_of(
    st.none(), st.just({}), st.just({"stream": "stdout"}), st.just({"stream": "stderr", "a": [1, {"b": 2}]}),
    st.dictionaries(NAMES, scalars, max_size=3), st.just({"bad": object()}), st.just({1: "int key"}))


@st.composite
def blocks(draw: st.DrawFn) -> list[tuple[int, Any, Any]]:
    shared = draw(st.lists(record_fields, min_size=1, max_size=10))  # records share their fields objects
    return [(draw(st.integers(0, 2**62)), draw(messages), draw(st.sampled_from(shared)))
            for _ in range(draw(st.integers(0, 12)))]


def stored(records: list[Any]) -> tuple[list[int], list[Any], list[bytes]]:
    """What a sink reads back from the spool, the fields as orjson writes them, types and all, with
    their keys sorted: the spool stores mappings equal to the block's first once, in its key order, so
    two equal mappings may come back in either's (the order a kernel keeps: the test below)."""
    stamps, texts, fields = columns.decode(columns.encode_total(records, 0)[0])
    return stamps, texts, [orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for f in fields]


def both(records: list[Any], format: str = "json", **options: Any) -> tuple[Any, Any]:
    transform = make("parse", format=format, **options)
    block = Block("src", {}, records)
    reference = transform._parsed(block)
    transform.stored_only = True
    compiled = transform._parsed_compiled(block)
    return reference, compiled


@settings(max_examples=2500, deadline=None)
@given(blocks(), st.sampled_from([{}, {"target": "t"}, {"target": "stream"}, {"time_key": "time"},
                                  {"time_key": "a", "time_format": "epoch"}, {"target": "t", "time_key": "time"}]))
def test_the_spool_reads_back_exactly_what_the_reference_stores(records, options):
    (expected, unparsed, untimed), (made, made_unparsed, made_untimed) = both(records, **options)

    assert (made_unparsed, made_untimed) == (unparsed, untimed)
    assert stored(made) == stored(expected)
    for record in made:
        if type(record[FIELDS]) is bytes:
            assert isinstance(orjson.loads(record[FIELDS]), dict)


plain_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**17), 10**17), st.text(st.characters(codec="utf-8"))),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NAMES, inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "time", "log", "é", ""]), plain_values, max_size=6),
       st.booleans())
def test_an_object_within_the_limits_is_parsed_by_the_kernel_itself(value, indent):
    text = json.dumps(value, ensure_ascii=False, indent=1 if indent else None)

    made, _, _, handed_back = kernels.parse.json_objects([(1, text, {"stream": "stdout"})],
                                                        lambda f: b'"stream":"stdout"', (b"message",), None, None,
                                                        None)

    assert handed_back == []
    assert orjson.loads(made[0][FIELDS]) == {**value, "stream": "stdout"}


@pytest.mark.parametrize("text", [
    '{"a":1e5}', '{"a":1234567890123456789}', '{"a":"\\ud83d\\ude00"}', '{"a":"\\ud800"}', '{"message":"x"}',
    '{"mess\\u0061ge":"x"}', '{"a":1} x', '{"a":"\x01"}', "{" * 70 + "}" * 70, '{"a":01}', '{"a":tru}', '{"a",1}',
    '{"a":1,}', "\ud800{}"])
def test_what_the_kernel_cannot_prove_goes_to_the_reference(text):
    made, unparsed, _, handed_back = kernels.parse.json_objects([(1, text, None)], lambda f: b"", (b"message",),
                                                               None, None, None)
    assert (handed_back, unparsed, made) == ([0], 0, [(1, text, None)])


@pytest.mark.parametrize("text", ["", "   ", "x", "[1]", "1", '"{}"', "null", "\ufeff{}", 7])
def test_what_is_certainly_not_an_object_is_unparsed_at_once(text):
    made, unparsed, _, handed_back = kernels.parse.json_objects([(1, text, None)], lambda f: b"", None, None, None,
                                                               None)
    assert (handed_back, unparsed, made) == ([], 1, [(1, text, None)])


def test_the_records_own_fields_win_in_the_parsed_order():
    made, *_ = kernels.parse.json_objects([(1, '{"stream":"parsed","a":1}', {"stream": "stdout"})],
                                          lambda f: orjson.dumps(f)[1:-1], (b"message",), None, None, None)
    assert list(orjson.loads(made[0][FIELDS]).items()) == [("stream", "stdout"), ("a", 1)]


def test_arguments_it_does_not_take_are_handed_back_whole():
    assert kernels.parse.json_objects((), bytes, None, None, None, None) is NotImplemented
    assert kernels.parse.json_objects([], bytes, ("message",), None, None, None) is NotImplemented
    assert kernels.parse.json_objects([], bytes, None, "t", None, None) is NotImplemented


TOKENS = st.sampled_from(["-", "10.0.0.1", "::1", "a\tb", "a\x1cb", "x", "", "é", "a]b", '"q"'])
REQUESTS = st.sampled_from([
    "GET /api/items?id=3 HTTP/1.1", "POST / HTTP/2.0", "GET /a\"b HTTP/1.1", "get / HTTP/1.1", "GET / HTTP/",
    "GET /x HTTP/1.1 extra", "-", "", "GET /x", "GET  /x", " GET", "\\x16\\x03\\x01", "GET /x HTTP/1.1\\",
    'a\\"b', "GET\t/x HTTP/1.1", "GET /x\nHTTP/1.1", "GET /é HTTP/1.1"])
QUOTED = st.sampled_from(["-", "", "https://example.com/", 'Mozilla/5.0 \\"quoted\\"', "a\\\\b", "tab\there",
                          "new\nline", "x\\\ny", "caf\u00e9", "\x01\x7f"])


@st.composite
def access_lines(draw: st.DrawFn) -> str:
    status = draw(st.sampled_from(["200", "404", "007", "-", "2000", "20", "abc", "٣٠٠"]))
    size = draw(st.sampled_from(["0", "5120", "-", "0042", "9" * 18, "9" * 19, "1" * 25, "", "x"]))
    time_local = draw(st.sampled_from(["02/Dec/2026:10:15:00 +0000", "-", "", "a]b", "x\ny"]))
    line = f'{draw(TOKENS)} {draw(TOKENS)} {draw(TOKENS)} [{time_local}] "{draw(REQUESTS)}" {status} {size}'
    referer, agent = draw(QUOTED), draw(QUOTED)
    ending = draw(st.sampled_from(["", "", f' "{referer}" "{agent}"', f' "{referer}"',
                                   f' "{referer}" "{agent}" "rt=0.1"', " trailing", f'"{referer}"']))
    return line + ending


access_messages = st.one_of(access_lines(), access_lines(), access_lines().flatmap(changed),
                            st.text(st.characters(codec=None, exclude_categories=()), max_size=30), st.just(7))


@st.composite
def access_blocks(draw: st.DrawFn) -> list[tuple[int, Any, Any]]:
    shared = draw(st.lists(record_fields, min_size=1, max_size=10))
    return [(draw(st.integers(0, 2**62)), draw(access_messages), draw(st.sampled_from(shared)))
            for _ in range(draw(st.integers(0, 12)))]


@settings(max_examples=2500, deadline=None)
@given(access_blocks(), st.sampled_from(["nginx_combined", "apache_combined"]), st.sampled_from([
    {}, {"target": "t"}, {"target": "status"}, {"time_key": "time_local", "time_format": "%d/%b/%Y:%H:%M:%S %z"},
    {"time_key": "status", "time_format": "epoch"}, {"time_key": "method", "time_format": "epoch"},
    {"time_key": "body_bytes_sent", "time_format": "epoch_ms"}]))
def test_access_logs_read_back_from_the_spool_exactly_as_the_reference_stores_them(records, format, options):
    (expected, unparsed, untimed), (made, made_unparsed, made_untimed) = both(records, format, **options)

    assert (made_unparsed, made_untimed) == (unparsed, untimed)
    assert stored(made) == stored(expected)


def test_an_access_line_of_the_usual_shape_is_parsed_by_the_kernel_itself():
    line = ('93.184.216.34 - alice [02/Dec/2026:10:15:00 +0000] "GET /api/items?id=3 HTTP/1.1" 404 5120 '
            '"https://example.com/" "Mozilla/5.0 \\"x\\""')
    made, unparsed, _, handed_back = kernels.parse.combined_logs([(1, line, {"stream": "stdout"})],
                                                                lambda f: b'"stream":"stdout"', None, None, None, None)
    assert (unparsed, handed_back) == (0, [])
    assert orjson.loads(made[0][FIELDS]) == {
        "remote_addr": "93.184.216.34", "remote_user": "alice", "time_local": "02/Dec/2026:10:15:00 +0000",
        "method": "GET", "path": "/api/items?id=3", "protocol": "HTTP/1.1", "status": 404, "body_bytes_sent": 5120,
        "http_referer": "https://example.com/", "http_user_agent": 'Mozilla/5.0 \\"x\\"', "stream": "stdout"}


LOGFMT_TOKENS = st.sampled_from([
    "level", "msg", "time", "a", "message", "host", "log", "k-ey", "=", "==", "x=", "\t", " ", "  ", "\x1c",
    '"', '"quoted text"', '"esc \\" \\\\ \\n \\t \\r \\x"', '"unclosed', '"line\\\nbreak"', '"é"', "é",
    "2026-11-22T10:15:00Z", '"2026-11-22T10:15:00Z"', "true", "1.5"])
SEPARATORS = ("=", "==", "\t", " ", "  ", "\x1c")


@st.composite
def logfmt_lines(draw: st.DrawFn) -> str:
    parts = draw(st.lists(LOGFMT_TOKENS, max_size=14))
    return "".join(part if part in SEPARATORS else part + draw(st.sampled_from(["", " ", "="])) for part in parts)


logfmt_messages = st.one_of(logfmt_lines(), logfmt_lines(), logfmt_lines().flatmap(changed),
                            st.text(st.characters(codec=None, exclude_categories=()), max_size=30), st.just(7),
                            st.just(" ".join(f"k{i}=v" for i in range(70))))


@st.composite
def logfmt_blocks(draw: st.DrawFn) -> list[tuple[int, Any, Any]]:
    shared = draw(st.lists(record_fields, min_size=1, max_size=10))
    return [(draw(st.integers(0, 2**62)), draw(logfmt_messages), draw(st.sampled_from(shared)))
            for _ in range(draw(st.integers(0, 12)))]


@settings(max_examples=2500, deadline=None)
@given(logfmt_blocks(), st.sampled_from([{}, {"target": "t"}, {"target": "msg"}, {"time_key": "time"},
                                         {"time_key": "a", "time_format": "epoch"}]))
def test_logfmt_reads_back_from_the_spool_exactly_as_the_reference_stores_it(records, options):
    (expected, unparsed, untimed), (made, made_unparsed, made_untimed) = both(records, "logfmt", **options)

    assert (made_unparsed, made_untimed) == (unparsed, untimed)
    assert stored(made) == stored(expected)


def test_a_logfmt_line_of_the_usual_shape_is_parsed_by_the_kernel_itself():
    line = 'time=2026-11-22T10:15:00Z level=warn msg="slow \\"query\\"" took_ms=1200 retried'
    made, unparsed, _, handed_back = kernels.parse.logfmt_pairs([(1, line, {"stream": "stdout"})],
                                                               lambda f: b'"stream":"stdout"', (b"message",), None,
                                                               None, None)
    assert (unparsed, handed_back) == (0, [])
    assert orjson.loads(made[0][FIELDS]) == {"time": "2026-11-22T10:15:00Z", "level": "warn", "msg": 'slow "query"',
                                             "took_ms": "1200", "retried": True, "stream": "stdout"}

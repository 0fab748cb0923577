"""`parse`: every format into typed fields, the record's time from a field, and failures that keep the record."""

from __future__ import annotations

import calendar
import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.config.topology import Plan, Step
from shipper.observe.tap import TAP
from shipper.parsers import PRESETS, regex_parser
from shipper.record import FIELDS, fields_of
from shipper.times import parse_rfc3339, time_parser
from shipper.transforms.pipeline import fanout
from tests.transforms.helpers import block, make, metric, run

NGINX = ('93.184.216.34 - alice [02/Dec/2026:10:15:00 +0000] "GET /api/items?id=3 HTTP/1.1" 404 5120 '
         '"https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"')


def test_nginx_combined_gives_typed_fields_and_leaves_dashes_out():
    parse = make("parse", format="nginx_combined")

    (out,) = run(parse, block(NGINX, '10.0.0.1 - - [02/Dec/2026:10:15:01 +0000] "-" 400 - "-" "-"'))["t"]

    assert out.records[0] == (1, NGINX, {
        "remote_addr": "93.184.216.34", "remote_user": "alice", "time_local": "02/Dec/2026:10:15:00 +0000",
        "method": "GET", "path": "/api/items?id=3", "protocol": "HTTP/1.1", "status": 404, "body_bytes_sent": 5120,
        "http_referer": "https://example.com/", "http_user_agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert out.records[1][2] == {"remote_addr": "10.0.0.1", "time_local": "02/Dec/2026:10:15:01 +0000",
                                 "status": 400}


def test_apache_combined_reads_escaped_quotes_in_the_user_agent():
    line = '::1 - - [02/Dec/2026:10:15:00 +0100] "POST /login HTTP/2.0" 200 17 "-" "say \\"hi\\""'

    fields = PRESETS["apache_combined"](line)

    assert fields == {"remote_addr": "::1", "time_local": "02/Dec/2026:10:15:00 +0100", "method": "POST",
                      "path": "/login", "protocol": "HTTP/2.0", "status": 200, "body_bytes_sent": 17,
                      "http_user_agent": 'say \\"hi\\"'}


def test_json_is_merged_into_the_root_keeping_the_message_and_setting_reserved_names_aside():
    line = '{"level":"warn","user":{"id":7},"message":"inner","kubernetes":{"namespace":"kube-system"}}'
    parse = make("parse", format="json")

    (out,) = run(parse, block((line, {"stream": "stdout"})))["t"]

    assert out.records == [(1, line, {"stream": "stdout", "level": "warn", "user": {"id": 7},
                                      "log": {"message": "inner", "kubernetes": {"namespace": "kube-system"}}})]


def test_fields_the_record_already_has_keep_their_values():
    parse = make("parse", format="json")

    (out,) = run(parse, block(('{"stream":"forged","a":1}', {"stream": "stderr"})))["t"]

    assert out.records[0][2] == {"stream": "stderr", "a": 1}


def test_a_target_holds_the_parsed_fields_under_one_key():
    parse = make("parse", format="logfmt", target="parsed")

    (out,) = run(parse, block('level=info msg="user logged in" took=3ms cached'))["t"]

    assert out.records[0][2] == {"parsed": {"level": "info", "msg": "user logged in", "took": "3ms", "cached": True}}


def test_a_line_not_in_the_format_passes_unchanged_and_is_counted():
    parse = make("parse", "p-count", format="json")
    before = metric("shipper_events_unparsed_total", component_id="p-count", reason="format",
                    component_kind="transform", component_type="parse")
    original = block("not json", '["a list"]', ('{"ok":1}', None))

    (out,) = run(parse, original)["p-count"]

    assert out.records == [(1, "not json", None), (1, '["a list"]', None), (1, '{"ok":1}', {"ok": 1})]
    assert metric("shipper_events_unparsed_total", component_id="p-count", reason="format",
                  component_kind="transform", component_type="parse") == before + 2


def test_a_regex_gives_its_named_groups():
    parse = make("parse", format="regex", pattern=r"^(?P<level>[A-Z]+) \[(?P<thread>[^\]]+)\] (?P<text>.*)$")

    (out,) = run(parse, block("ERROR [main] disk full", "no match here"))["t"]

    assert out.records[0][2] == {"level": "ERROR", "thread": "main", "text": "disk full"}
    assert out.records[1][2] is None


def test_a_regex_without_a_named_group_is_refused_at_load():
    with pytest.raises(ValueError, match="has no named group"):
        make("parse", format="regex", pattern=r"^\d+")


def test_the_field_parsed_may_be_another_than_the_message():
    parse = make("parse", format="json", field="log", target="app")

    (out,) = run(parse, block(("raw", {"log": '{"a": 1}'})))["t"]

    assert out.records[0][2] == {"log": '{"a": 1}', "app": {"a": 1}}


def test_klog_lines_give_level_source_and_a_dated_time():
    year = time.gmtime().tm_year
    line = "W0102 15:04:05.123456    1234 reflector.go:424] watch of *v1.Pod ended"

    fields = PRESETS["klog"](line)

    assert fields == {"level": "warning", "time": f"{year}-01-02T15:04:05.123456Z", "thread_id": 1234,
                      "source_file": "reflector.go", "source_line": 424, "msg": "watch of *v1.Pod ended"}


def test_syslog_rfc5424_gives_its_header_and_structured_data():
    line = '<165>1 2026-12-02T10:15:00.003Z web-1 nginx 812 ACCESS [meta@1 region="eu" note="a \\"q\\""] GET /'

    fields = PRESETS["syslog_rfc5424"](line)

    assert fields == {"facility": "local4", "severity": "notice", "version": 1, "time": "2026-12-02T10:15:00.003Z",
                      "hostname": "web-1", "appname": "nginx", "procid": "812", "msgid": "ACCESS",
                      "structured_data": {"meta@1": {"region": "eu", "note": 'a "q"'}}, "msg": "GET /"}


def test_syslog_rfc3164_reads_lines_with_and_without_priority():
    year = time.gmtime().tm_year

    with_pri = PRESETS["syslog_rfc3164"]("<38>Jan  5 08:00:01 bastion sshd[4242]: Accepted publickey")
    plain = PRESETS["syslog_rfc3164"]("Jan 15 08:00:01 bastion kernel: eth0: link up")

    assert with_pri == {"facility": "auth", "severity": "info", "time": f"{year}-01-05T08:00:01Z",
                        "hostname": "bastion", "appname": "sshd", "procid": "4242", "msg": "Accepted publickey"}
    assert plain == {"time": f"{year}-01-15T08:00:01Z", "hostname": "bastion", "appname": "kernel",
                     "msg": "eth0: link up"}


def test_time_key_sets_the_record_time_and_a_bad_time_keeps_the_read_time():
    parse = make("parse", "p-time", format="json", time_key="ts", time_format="epoch_ms")
    before = metric("shipper_events_unparsed_total", component_id="p-time", reason="time",
                    component_kind="transform", component_type="parse")

    (out,) = run(parse, block(f'{{"ts": {T0}123}}', '{"ts": "soon"}', '{"no": "time"}'))["p-time"]

    assert [r[0] for r in out.records] == [(T0 * 1000 + 123) * 1_000_000, 1, 1]
    assert out.records[1][2] == {"ts": "soon"}
    assert metric("shipper_events_unparsed_total", component_id="p-time", reason="time",
                  component_kind="transform", component_type="parse") == before + 2


def test_nginx_time_local_with_strftime_sets_the_time():
    parse = make("parse", format="nginx_combined", time_key="time_local", time_format="%d/%b/%Y:%H:%M:%S %z")

    (out,) = run(parse, block(NGINX.replace("+0000", "+0100")))["t"]

    assert out.records[0][0] == (calendar.timegm((2026, 12, 2, 9, 15, 0, 0, 0, 0))) * 1_000_000_000


T0 = calendar.timegm((2026, 12, 2, 10, 15, 0, 0, 0, 0))


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-02T10:15:00Z", T0 * 10**9),
    ("2026-12-02T10:15:00.123456789Z", T0 * 10**9 + 123456789),
    ("2026-12-02T11:15:00+01:00", T0 * 10**9),
    ("2026-12-02 10:15:00.5", T0 * 10**9 + 500_000_000),
    ("2026-02-30T10:15:00Z", None),
    ("yesterday", None),
    (17, None),
])
def test_rfc3339_times(text, expected):
    assert parse_rfc3339(text) == expected


def test_epoch_times_take_numbers_and_numeric_text():
    epoch = time_parser("epoch")

    assert [epoch(T0), epoch(f"{T0}.25"), epoch(True), epoch("x"), epoch(10**20)] == [
        T0 * 10**9, T0 * 10**9 + 250_000_000, None, None, None]


PARSERS = [*PRESETS.values(), regex_parser(r"(?P<a>\w+)=(?P<b>\d+)")]


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(PARSERS))
def test_no_parser_raises_on_any_text(text, parser):
    result = parser(text)

    assert result is None or isinstance(result, dict)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('<>[]"\\=- 0123456789:.TZJanDec\n\t{}'))))
def test_no_parser_raises_on_text_made_of_their_own_punctuation(text):
    for parser in PARSERS:
        result = parser(text)
        assert result is None or isinstance(result, dict)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans()),
       st.sampled_from(["rfc3339", "epoch", "epoch_ms", "%d/%b/%Y:%H:%M:%S %z", "%Y"]))
def test_no_time_format_raises_on_any_value(value, time_format):
    result = time_parser(time_format)(value)

    assert result is None or 0 <= result < 4_102_444_800 * 10**9


def test_a_bug_in_a_transform_passes_the_block_on_unchanged_and_is_counted():
    parse = make("parse", "p-bug", format="json")
    parse.parser = lambda text: 1 / 0
    labels = {"component_kind": "transform", "component_id": "p-bug", "component_type": "parse",
              "stage": "transform", "error": "crash"}
    before = metric("shipper_errors_total", **labels)

    (out,) = run(parse, block('{"a": 1}'))["p-bug"]

    assert (out.stream, out.records) == ("p-bug", [(1, '{"a": 1}', None)])
    assert metric("shipper_errors_total", **labels) == before + 1


def test_a_time_format_without_a_year_takes_the_year_that_puts_it_nearest_now_not_a_day_ahead():
    yearless = time_parser("%b %d %H:%M:%S %z")
    now = time.time()
    ten_days_ago = time.gmtime(now - 10 * 86_400)
    two_days_ahead = time.gmtime(now + 2 * 86_400)
    if (two_days_ahead.tm_mon, two_days_ahead.tm_mday) == (2, 29):
        pytest.skip("29 February has no last year")

    recent = yearless(time.strftime("%b %d %H:%M:%S +0000", ten_days_ago))
    ahead = yearless(time.strftime("%b %d %H:%M:%S +0000", two_days_ahead))

    assert recent == calendar.timegm(ten_days_ago) * 10**9
    assert ahead == calendar.timegm((two_days_ahead.tm_year - 1, *two_days_ahead[1:6])) * 10**9  # last year's


def test_a_malformed_structured_data_element_is_left_out_and_counted_while_the_line_parses():
    parse = make("parse", "p-sd", format="syslog_rfc5424")
    labels = {"component_kind": "transform", "component_id": "p-sd", "component_type": "parse",
              "kind": "malformed_sd_element"}
    before = metric("shipper_input_anomalies_total", **labels)

    (out,) = run(parse, block('<13>1 2026-12-02T10:15:00Z h app - - [ok a="1"][bad a] text'))["p-sd"]

    assert out.records[0][2]["structured_data"] == {"ok": {"a": "1"}}
    assert out.records[0][2]["msg"] == "text"
    assert metric("shipper_input_anomalies_total", **labels) == before + 1


def test_a_parse_whose_output_only_the_spool_reads_is_told_so_and_the_tap_shows_its_fields():
    stored, read = make("parse", "stored", format="json"), make("parse", "read", format="json")
    reader = make("filter", "reader", inputs=["read"], exclude={"field": "level", "regex": "^debug$"})
    transforms = {"stored": stored, "read": read, "reader": reader}
    plan = Plan("src", (Step("stored", ("src",)), Step("read", ("src",)), Step("reader", ("read",))),
                ("stored", "reader"))
    watcher = TAP.watch("stored")
    try:
        out = fanout(plan, transforms)(block('{"level":"info","n":1}', ('{"level":"debug"}', {"stream": "stdout"})))
    finally:
        TAP.unwatch(watcher)

    assert (stored.stored_only, read.stored_only, reader.stored_only) == (True, False, True)
    assert [fields_of(r) for b in out if b.stream == "stored" for r in b.records] == \
           [{"level": "info", "n": 1}, {"level": "debug", "stream": "stdout"}]
    assert [r[FIELDS] for b in out if b.stream == "reader" for r in b.records] == [{"level": "info", "n": 1}]
    if kernels.parse is not None:
        assert all(type(r[FIELDS]) is bytes for b in out if b.stream == "stored" for r in b.records)
    assert [orjson.loads(line)["level"] for line in watcher.take()] == ["info", "debug"]

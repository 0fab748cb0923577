"""RFC 5424 formatting and framing, checked with the tests' own strict parser."""

from __future__ import annotations

import re

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipper.buffer.spool import StoredBlock
from shipper.sinks.syslog.config import SyslogOptions as Options
from shipper.sinks.syslog.encoder import Encoder
from shipper.sinks.syslog.framing import fit, newline_bodies, octet_counting
from shipper.sinks.syslog.rfc5424 import Rfc5424, sd_value
from tests.syslog import octet_frames, parse

T0 = 1795342500_123456789
COMMON = {"host": "node-1", "kubernetes": {"namespace": "prod", "pod_name": "web-0", "container_name": "nginx"}}


def options(**overrides) -> Options:
    return Options.model_validate({"type": "syslog", "inputs": ["app"], "address": "localhost:6514", **overrides})


def formatted(fmt: Rfc5424, record, common=COMMON) -> str:
    return fmt.prefix(record, fmt.headers(common, record)) + record[1]


def test_a_container_record_becomes_a_valid_message_with_its_fields():
    fmt = Rfc5424(options(facility="local0", procid="{kubernetes.pod_name}"))

    message = parse(formatted(fmt, (T0, "GET / 200", {"stream": "stdout"})))

    assert (message.facility, message.severity) == (16, 6)
    assert message.timestamp == "2026-11-22T10:15:00.123456Z"
    assert (message.hostname, message.app_name, message.procid, message.msgid) == ("node-1", "nginx", "web-0", "-")
    assert message.msg == "GET / 200"


def test_stderr_is_err_and_a_record_severity_is_kept():
    fmt = Rfc5424(options())

    assert parse(formatted(fmt, (T0, "x", {"stream": "stderr"}))).severity == 3
    assert parse(formatted(fmt, (T0, "x", {"severity": 2}))).severity == 2
    assert parse(formatted(fmt, (T0, "x", {"severity": "warning"}))).severity == 4
    assert parse(formatted(fmt, (T0, "x", None))).severity == 6


def test_header_fields_are_printable_ascii_cut_to_their_rfc_lengths_or_nil():
    fmt = Rfc5424(options(app_name="{kubernetes.container_name}", msgid="{missing.field}"))
    common = {"host": "", "kubernetes": {"container_name": "a very long container name é " * 3}}

    message = parse(formatted(fmt, (T0, "x", None), common))

    assert message.hostname == "-"
    assert len(message.app_name) == 48 and " " not in message.app_name
    assert message.msgid == "-"


def test_structured_data_escapes_quote_backslash_and_bracket():
    fmt = Rfc5424(options(structured_data={"k8s@32473": {"pod": "{kubernetes.pod_name}", "odd": "{odd}",
                                                         "gone": "{no.such}"}}))
    common = {**COMMON, "odd": 'a"b\\c]d'}

    message = parse(formatted(fmt, (T0, "x", None), common))

    assert message.structured_data == {"k8s@32473": {"pod": "web-0", "odd": 'a"b\\c]d'}}


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300), st.integers(480, 700))
def test_split_bodies_fit_the_limit_and_join_back_exactly(text, max_size):
    prefix = "<14>1 2026-11-22T10:15:00.123456Z host app - - - "

    bodies, cut = fit(prefix, text, max_size, "split")

    assert "".join(bodies) == text
    assert all(len((prefix + body).encode()) <= max_size for body in bodies)
    assert cut == (len((prefix + text).encode()) > max_size)


def test_truncate_keeps_the_head_at_a_character_boundary():
    bodies, cut = fit("<14>1 - - - - - - ", "é" * 1000, 480, "truncate")

    assert cut and len(bodies) == 1
    assert bodies[0] == "é" * ((480 - 18) // 2)


def test_newline_framing_escapes_or_splits_embedded_newlines():
    assert newline_bodies("a\nb", "escape") == ["a\\nb"]
    assert newline_bodies("a\\nb", "escape") == ["a\\\\nb"]
    assert newline_bodies("a\nb", "split") == ["a", "b"]
    assert newline_bodies("ab", "split") == ["ab"]


def test_octet_counting_counts_bytes_not_characters():
    assert octet_counting("é".encode()) == b"2 \xc3\xa9"


def test_a_broken_address_or_sd_name_is_a_config_error():
    with pytest.raises(pydantic.ValidationError, match="host:port"):
        options(address="localhost")
    with pytest.raises(pydantic.ValidationError, match="SD name"):
        options(structured_data={"bad id": {}})
    with pytest.raises(pydantic.ValidationError, match="cert_file and key_file"):
        options(tls={"cert_file": "/x.crt"})


HOSTILE_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=2000)


@given(message=HOSTILE_TEXT, sd_value_text=HOSTILE_TEXT, host=HOSTILE_TEXT, max_size=st.integers(480, 4096),
       framing=st.sampled_from(["octet_counting", "newline"]))
def test_any_record_and_structured_data_become_frames_within_the_limit_with_no_stray_newline(
        message, sd_value_text, host, max_size, framing):
    # before: structured data longer than max_message_size made the sink loop forever
    fmt = Rfc5424(options(max_message_size=max_size, framing=framing, hostname="{host}", procid="{host}",
                          structured_data={"meta@1": {"a": "{value}", "b": "{value}"}}))
    record = (T0, message, None)
    common = {"host": host, "value": sd_value_text}

    prefix = fmt.prefix(record, fmt.headers(common, record))
    bodies = [part for body in (newline_bodies(message, "escape") if framing == "newline" else [message])
              for part in fit(prefix, body, max_size, "split")[0]]

    for body in bodies:
        raw = prefix + body
        assert len(raw.encode()) <= max_size
        parse(raw)  # a valid RFC 5424 message
        if framing == "newline":
            assert "\n" not in raw
    assert len(prefix.encode()) <= max_size // 2 + 40  # headers take at most half; PRI and time on top
    if fmt.anomalies["header_truncated"] == 0:  # nothing cut unless counted
        assert f'a="{sd_value(sd_value_text)}"' in prefix or not sd_value_text


@given(HOSTILE_TEXT)
def test_newline_escaping_can_be_undone_exactly(text):
    (escaped,) = newline_bodies(text, "escape")

    assert "\n" not in escaped
    assert re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), escaped) == text


FIELD_MAPPINGS = [None, {"stream": "stderr"}, {"severity": "warning", "app": "api"}, {"app": "zürich"},
                  {"severity": 3, "stream": "stdout"}]


def block_of(records, start=0, common=COMMON) -> StoredBlock:
    stamps, messages, refs = zip(*records, strict=True) if records else ((), (), ())
    return StoredBlock(1, "app", common, list(stamps), list(messages), [FIELD_MAPPINGS[r] for r in refs], start)


def test_a_structured_data_value_with_a_lone_surrogate_is_sent_with_it_replaced_not_failing_the_block():
    # before: fit() sized the prefix with a strict encode, and the UnicodeEncodeError failed the sink's run
    encoder = Encoder(options(structured_data={"meta@1": {"host": "{host}"}}))
    block = block_of([(T0, "hello", 0)], common={**COMMON, "host": "node-\ud800"})

    payload, events = encoder.encode([block])

    assert events == 1
    assert parse(octet_frames(payload)[0]).msg == "hello"
    assert b'host="node-?"' in payload


def test_a_plain_block_is_encoded_in_one_batch_with_one_frame_per_record():
    encoder = Encoder(options(app_name="{app}"))
    block = block_of([(T0 + i, f"line {i}", i % len(FIELD_MAPPINGS)) for i in range(10)], start=3)

    batched = encoder._batch(block, block.messages[3:])

    assert batched is not None
    assert batched == encoder._per_record(block)
    frames = octet_frames(batched)
    assert [parse(f).msg for f in frames] == [f"line {i}" for i in range(3, 10)]


@given(records=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), HOSTILE_TEXT,
                                  st.integers(0, len(FIELD_MAPPINGS) - 1)), max_size=12),
       start=st.integers(0, 12), host=HOSTILE_TEXT, max_size=st.integers(480, 4096),
       framing=st.sampled_from(["octet_counting", "newline"]), newlines=st.sampled_from(["escape", "split"]))
def test_a_block_encodes_to_the_same_bytes_batched_as_record_by_record(records, start, host, max_size, framing,
                                                                       newlines):
    encoder = Encoder(options(app_name="{app}", max_message_size=max_size, framing=framing, newlines=newlines,
                              structured_data={"meta@1": {"host": "{host}", "stream": "{stream}"}}))
    block = block_of(records, min(start, len(records)), {**COMMON, "host": host})

    batched = encoder._batch(block, block.messages[block.start:])
    per_record = encoder._per_record(block)

    assert batched is None or batched == per_record
    payload, events = encoder.encode([block])
    assert payload == per_record and events == len(records) - block.start



@given(offsets=st.lists(st.integers(0, 2 * 3600 * 10**9), max_size=12),
       mapping=st.integers(0, len(FIELD_MAPPINGS) - 1), messages=st.lists(HOSTILE_TEXT, min_size=12, max_size=12),
       framing=st.sampled_from(["octet_counting", "newline"]))
def test_a_block_of_one_fields_mapping_within_hours_encodes_to_the_same_bytes_batched(offsets, mapping, messages,
                                                                                      framing):
    encoder = Encoder(options(app_name="{app}", framing=framing))
    block = block_of([(T0 + offset, message, mapping) for offset, message in zip(offsets, messages, strict=False)])

    assert encoder.encode([block])[0] == encoder._per_record(block)


@given(st.lists(st.integers(-(2**63), 2**63 - 1)) | st.lists(st.integers(10**18, 2**63 - 1))
       | st.lists(st.integers(T0, T0 + 2 * 3600 * 10**9)))
def test_a_block_of_times_renders_as_each_time_alone(values):
    fmt = Rfc5424(options())

    assert fmt.timestamps(values) == [fmt.timestamp(value) for value in values]


@pytest.mark.parametrize(("value", "severity"), [
    ("trace", 7), ("DEBUG", 7), ("info", 6), ("Notice", 5), ("warn", 4), ("WARNING", 4), ("error", 3), ("err", 3),
    ("crit", 2), ("critical", 2), ("FATAL", 2), ("alert", 1), ("emerg", 0), ("panic", 0), (3, 3), ("5", 5),
])
def test_severity_field_reads_numbers_syslog_names_and_common_level_names_in_any_case(value, severity):
    fmt = Rfc5424(options(severity_field="level"))

    assert parse(formatted(fmt, (T0, "x", {"level": value}))).severity == severity


def test_severity_map_adds_and_overrides_names_and_an_unknown_value_is_counted_and_takes_the_default():
    fmt = Rfc5424(options(severity_field="log.level", severity="notice",
                          severity_map={"W": "warning", "info": "debug"}))

    assert parse(formatted(fmt, (T0, "x", {"log": {"level": "w"}}))).severity == 4
    assert parse(formatted(fmt, (T0, "x", {"log": {"level": "INFO"}}))).severity == 7
    assert fmt.anomalies["unknown_severity"] == 0
    assert parse(formatted(fmt, (T0, "x", {"log": {"level": "loud"}}))).severity == 5
    assert parse(formatted(fmt, (T0, "x", {"log": {"level": 9}}))).severity == 5
    assert fmt.anomalies["unknown_severity"] == 2
    assert parse(formatted(fmt, (T0, "x", {"stream": "stderr"}))).severity == 3  # no field: the default rules


def test_facility_field_takes_names_and_numbers_and_counts_the_rest():
    fmt = Rfc5424(options(facility="local0", facility_field="facility"))

    assert parse(formatted(fmt, (T0, "x", {"facility": "AUTH"}))).facility == 4
    assert parse(formatted(fmt, (T0, "x", {"facility": 23}))).facility == 23
    assert parse(formatted(fmt, (T0, "x", {"facility": "nowhere"}))).facility == 16
    assert fmt.anomalies["unknown_facility"] == 1


def test_a_block_counts_each_record_whose_severity_is_unknown_once():
    fmt_options = options(severity_field="level")
    encoder = Encoder(fmt_options)
    shared = {"level": "loud"}
    stored = StoredBlock(1, "app", COMMON, [T0] * 3, ["a", "b", "c"], [shared, shared, {"level": "error"}], 0)

    payload, events = encoder.encode([stored])

    assert events == 3
    assert [m.severity for m in map(parse, octet_frames(payload))] == [6, 6, 3]
    assert encoder.format.anomalies["unknown_severity"] == 2

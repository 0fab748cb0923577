"""Every per-record step is total: any bytes, any JSON, any timestamp a tenant writes becomes a
stored record (repaired and counted where it must be) and leaves through every sink's encoder.

Hypothesis feeds each source's decode path into a real spool, and what the spool gives back into
each sink's encode path. One record that cannot be stored must never stop its file or its source."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipper.buffer.spool import Spool
from shipper.record import Block
from shipper.sinks.cloudwatch.batch import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, EventQueue, request_body
from shipper.sinks.cloudwatch.config import EVENT_OVERHEAD
from shipper.sinks.cloudwatch.naming import Namer
from shipper.sinks.syslog.config import SyslogOptions
from shipper.sinks.syslog.sink import SyslogSink
from shipper.sources.files.container_formats import ContainerDecoder
from shipper.sources.files.formats import DECODERS
from shipper.sources.files.multiline import PatternDecoder
from shipper.sources.journald.config import JournaldOptions
from shipper.sources.journald.fields import RawEntry, RecordMaker
from shipper.sources.journald.reader import Journal
from tests.syslog import octet_frames, parse

NOW_NS = 1_795_342_500_000_000_000
MAX_LINE = 4096

any_text = st.text(max_size=200)  # surrogates included: Python's own json and systemd-python let them through
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def stamp(year: int, nanos: str = "123456789") -> str:
    return f"{year:04d}-01-02T03:04:05.{nanos}Z"


cri_lines = st.one_of(
    any_text,
    st.builds(lambda y, s, t, m: f"{stamp(y)} {s} {t} {m}", st.integers(1, 9999),
              st.sampled_from(["stdout", "stderr", "stdin"]), st.sampled_from(["F", "P", "X"]), any_text),
)
docker_lines = st.one_of(
    any_text,
    st.builds(lambda y, log, stream: json.dumps({"log": log, "stream": stream, "time": stamp(y)}),
              st.integers(1, 9999), any_text, st.sampled_from(["stdout", "stderr", "x"])),
    st.builds(lambda v: json.dumps({"log": v, "stream": "stdout", "time": v}), json_values),
)
json_lines = st.one_of(
    any_text,
    st.builds(lambda depth: '{"deep": ' + nested(depth) + "}", st.integers(200, 1000)),
    st.builds(lambda n: '{"big": ' + str(n) + "}", st.integers(2**63, 2**90)),
    st.builds(lambda v: json.dumps({"v": v}), json_values),  # big integers and lone surrogates included
    st.just('{"lone": "\\ud800", "\\udfff": 1}'),
)


def fresh_spool(tmp_path_factory) -> Spool:
    spool = Spool.open(tmp_path_factory.mktemp("spool"), 256 * 1024 * 1024)
    spool.attach_sinks({"out": ["src"]})
    return spool


async def store_and_read_back(spool: Spool, records: list, common: dict | None = None):
    await spool.append([Block("src", common or {"file": "/x.log"}, records)], {}, source="src")
    return spool.read("out", spool.cursor("out"), 1_000_000)


def decoders():
    return {
        "plain": DECODERS["plain"](MAX_LINE), "json": DECODERS["json"](MAX_LINE),
        "container": ContainerDecoder(MAX_LINE),
        "multiline": PatternDecoder(ContainerDecoder(MAX_LINE), r"^\S", 1.0, MAX_LINE),
    }


SETTINGS = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(kind=st.sampled_from(["plain", "json", "container", "multiline"]),
       lines=st.lists(st.one_of(cri_lines, docker_lines, json_lines), max_size=20))
async def test_every_file_decoder_yields_records_the_spool_stores_whatever_the_lines(tmp_path_factory, kind, lines):
    decoder = decoders()[kind]
    spool = fresh_spool(tmp_path_factory)

    records = decoder.decode(lines, NOW_NS) + decoder.flush()
    stored = await store_and_read_back(spool, records) if records else []

    assert sum(len(block.messages) for block in stored) == len(records)
    orjson.dumps(decoder.carry())  # what a checkpoint stores of partial lines is storable too
    spool.close()


@SETTINGS
@given(records=st.lists(st.tuples(st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.none()), any_text,
                                  st.one_of(st.none(), st.dictionaries(any_text, json_values, max_size=4))),
                        min_size=1, max_size=20),
       common=st.dictionaries(any_text, json_values, max_size=4))
async def test_the_spool_stores_any_record_repairing_and_counting_what_it_cannot_store_as_is(
        tmp_path_factory, records, common):
    spool = fresh_spool(tmp_path_factory)

    repairs = await spool.append([Block("src", common, records)], {}, source="src")
    (block,) = spool.read("out", spool.cursor("out"), 1_000_000)

    assert len(block.messages) == len(records)
    assert all(-(2**63) <= t < 2**63 for t in block.timestamps)
    kept = [t for (t, _, _), r in zip(records, block.timestamps, strict=True) if t == r]
    assert len(records) - len(kept) == repairs["timestamp_out_of_range"]
    spool.close()


async def test_a_json_line_nested_deeper_than_the_encoder_goes_is_stored_as_its_text_and_counted(
        tmp_path_factory):
    records = DECODERS["json"](MAX_LINE).decode(['{"deep": ' + nested(300) + ', "ok": 1}'], NOW_NS)
    spool = fresh_spool(tmp_path_factory)

    repairs = await spool.append([Block("src", {}, records)], {}, source="src")
    stored = spool.read("out", spool.cursor("out"), 10)

    assert stored[0].fields[0] == {"deep": nested(300), "ok": 1}
    assert repairs == {"unstorable_value": 1}
    spool.close()


async def test_a_container_time_outside_64_bit_nanoseconds_becomes_the_read_time(tmp_path_factory):
    records = ContainerDecoder(MAX_LINE).decode([f"{stamp(9999)} stdout F far future",
                                                 f"{stamp(1)} stdout F far past"], NOW_NS)
    spool = fresh_spool(tmp_path_factory)

    stored = await store_and_read_back(spool, records)

    assert stored[0].messages == ["far future", "far past"]
    assert all(abs(t - stored[0].timestamps[0]) < 60 * 10**9 for t in stored[0].timestamps)
    spool.close()


journal_values = st.one_of(st.binary(max_size=50), st.lists(st.binary(max_size=10), max_size=3))  # as stored


@pytest.fixture(scope="module")
def journal_convert(tmp_path_factory):
    """The converters of a real systemd-python reader (on an empty journal directory)."""
    directory = tmp_path_factory.mktemp("empty-journal")
    journal = Journal(JournaldOptions.model_validate({"type": "journald", "directory": str(directory)}))
    yield journal.convert
    journal.close()


@SETTINGS
@given(fields=st.dictionaries(st.sampled_from(["MESSAGE", "PRIORITY", "_PID", "_SYSTEMD_UNIT", "OTHER", "_BOOT_ID"]),
                              journal_values),
       realtime_us=st.integers(0, 2**63 - 1), keep_all=st.booleans())
async def test_any_journal_entry_becomes_a_record_the_spool_stores(tmp_path_factory, journal_convert, fields,
                                                                  realtime_us, keep_all):
    spool = fresh_spool(tmp_path_factory)

    record, _ = RecordMaker(journal_convert, keep_all).record(RawEntry(realtime_us, fields))
    (block,) = await store_and_read_back(spool, [record])

    assert len(block.messages) == 1
    spool.close()


hostile_records = st.lists(
    st.tuples(st.integers(-(2**63), 2**63 - 1), any_text,
              st.one_of(st.none(), st.dictionaries(any_text, json_values, max_size=3))),
    min_size=1, max_size=30)


@SETTINGS
@given(records=hostile_records, common=st.dictionaries(any_text, json_values, max_size=4),
       encoding=st.sampled_from(["text", "json"]))
async def test_any_stored_record_becomes_cloudwatch_batches_within_every_limit(
        tmp_path_factory, records, common, encoding):
    spool = fresh_spool(tmp_path_factory)
    (block,) = await store_and_read_back(spool, records, {**common, "kubernetes": {"pod_name": "p"}})
    namer = Namer("/g/{kubernetes.pod_name}", "{stream}", "/fallback", "fallback")
    queues: dict[tuple[str, str], EventQueue] = {}

    for index, record in enumerate(block.records):
        name = namer.name(block.common, record)
        message = record[1] if encoding == "text" else orjson.dumps(
            {**block.common, **(record[2] or {}), "message": record[1]}).decode()
        queues.setdefault(name, EventQueue()).add([record[0]], [message], block.id, index, 1, 256 * 1024)

    sent = 0
    for (group, stream), queue in queues.items():
        while queue:
            batch = queue.take()
            events = batch.chronological()
            body = orjson.loads(request_body(group, stream, events))
            assert len(events) <= MAX_BATCH_EVENTS
            assert sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in body["logEvents"]) <= MAX_BATCH_BYTES
            sent += batch.records
    assert sent == len(records)
    spool.close()


@SETTINGS
@given(records=hostile_records, common=st.dictionaries(any_text, json_values, max_size=4),
       framing=st.sampled_from(["octet_counting", "newline"]))
async def test_any_stored_record_becomes_valid_syslog_frames(tmp_path_factory, records, common, framing):
    spool = fresh_spool(tmp_path_factory)
    blocks = await store_and_read_back(spool, records, {**common, "host": "h"})
    options = SyslogOptions.model_validate({
        "type": "syslog", "inputs": ["src"], "address": "127.0.0.1:6514", "framing": framing, "mode": "tcp",
        "max_message_size": 2048, "app_name": "{app}", "structured_data": {"x@1": {"v": "{v}"}}})
    sink = SyslogSink("out", options, spool)

    payload, events = sink._encode(blocks)

    assert events == len(records)
    text = payload.decode("utf-8")
    frames = text.split("\n")[:-1] if framing == "newline" else octet_frames(payload)
    assert len(frames) >= len(records)
    for frame in frames:
        assert len(frame.encode()) <= 2048
        parse(frame)
    spool.close()

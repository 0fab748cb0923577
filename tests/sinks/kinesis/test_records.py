"""The Firehose and Kinesis sinks' stream records and batches: within every limit of the API (records
and bytes per call, bytes per record, after compression), every log record once and in order (a long
one in ordered pieces), each batch ending where the spool cursor may go once it is accepted; the call
bodies carry exactly those records."""

from __future__ import annotations

import base64
import gzip
from dataclasses import replace

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shipper.buffer.spool import Position, StoredBlock
from shipper.sinks.encoding import encoded as encoding_of
from shipper.sinks.kinesis.config import FirehoseOptions, KinesisStreamsOptions
from shipper.sinks.kinesis.request import (
    FIREHOSE,
    KINESIS_STREAMS,
    Batch,
    Limits,
    PartitionKeys,
    RecordBuilder,
    _Units,
)
from shipper.sinks.kinesis.service import FirehoseApi, KinesisStreamsApi


def stored(block_id: int, messages: list[str], fields: list | None = None, start: int = 0) -> StoredBlock:
    times = [1_700_000_000_000_000_000 + i for i in range(len(messages))]
    return StoredBlock(block_id, "app", {"host": "node-1"}, times, messages, fields or [None] * len(messages), start)


def everything(builder: RecordBuilder, blocks: list[StoredBlock]) -> list[Batch]:
    batches = list(builder.add(blocks, now=0.0))
    last = builder.take()
    return batches + ([last] if last is not None else [])


def log_records(batches: list[Batch], encoding: str) -> list[str]:
    """The messages the batches carry, pieces of a split one joined again (a piece is alone in its
    stream record, which ends no log record but the last piece's)."""
    messages: list[str] = []
    pieces: list[str] = []
    for batch in batches:
        for data, events in zip(batch.records, batch.events, strict=True):
            data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            lines = data.decode().split("\n")[:-1]
            texts = [orjson.loads(line)["message"] for line in lines] if encoding == "json" else lines
            if events == 0 or pieces:
                assert len(texts) == 1
                pieces += texts
                if events == 1:
                    messages.append("".join(pieces))
                    pieces = []
                continue
            assert len(texts) == events
            messages += texts
    assert pieces == []
    return messages


limits = st.builds(lambda records, record, calls: Limits(records, record * calls, record),
                   st.integers(1, 20), st.integers(1500, 6000), st.integers(1, 10))  # keys: up to 1,024 B
messages = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=400) | \
    st.builds(lambda text, n: text * n, st.text(min_size=1, max_size=5).filter(lambda t: "\n" not in t),
              st.integers(100, 3000))


@settings(max_examples=300, deadline=None)
@given(blocks_of=st.lists(st.lists(messages, min_size=1, max_size=20), min_size=1, max_size=5), limits=limits,
       encoding=st.sampled_from(["json", "text"]), pack=st.booleans(), compression=st.sampled_from(["none", "gzip"]),
       keyed=st.sampled_from([None, "random", "{host}-{message}"]))
def test_batches_hold_every_record_once_in_order_within_every_limit(blocks_of, limits, encoding, pack, compression,
                                                                    keyed):
    blocks = [stored(10 + n, texts) for n, texts in enumerate(blocks_of)]
    keys = None if keyed is None else PartitionKeys(None if keyed == "random" else keyed)
    builder = RecordBuilder(limits, encoding, pack, compression, keys)

    batches = everything(builder, blocks)

    for batch in batches:
        assert 1 <= len(batch.records) <= limits.records or (not batch.records and batch is batches[-1])
        assert batch.size <= limits.call_bytes
        for data, key, size in zip(batch.records, batch.keys, batch.sizes, strict=True):
            assert size == len(data) + len(key.encode()) <= limits.record_bytes
            assert (key != "") == (keys is not None) and len(key) <= 256
    assert log_records(batches, encoding) == [m for texts in blocks_of for m in texts]
    assert [b.end for b in batches] == sorted(b.end for b in batches)
    assert batches[-1].end == blocks[-1].end()


@settings(max_examples=300, deadline=None)
@example(texts=["x" * 59] * 25, record=600, encoding="text", keyed=None)  # runs that fill a record exactly
@given(texts=st.lists(messages, min_size=1, max_size=30), record=st.integers(600, 3000),
       encoding=st.sampled_from(["json", "text"]), keyed=st.sampled_from([None, "random", "{host}"]))
def test_packing_a_usual_block_by_runs_makes_the_stream_records_packing_line_by_line_makes(texts, record, encoding,
                                                                                          keyed):
    block = stored(1, texts, start=len(texts) // 3)
    made, expected = [], []
    for units in (made, expected):
        keys = None if keyed is None else PartitionKeys(None if keyed == "random" else keyed)
        builder = RecordBuilder(Limits(500, 5 * record, record), encoding, True, "none", keys)
        lines = encoding_of(block, encoding)
        key = "" if keys is None or keys.random else keys.of_block(block)
        out = _Units()
        if units is made:
            if not builder._all_fit(lines, key):
                return  # a line needs splitting: only the line-by-line way takes such a block
            builder._packed(block, lines, key, out)
        else:
            builder._packed_one_by_one(block, lines, key, out)
        units.append((out.records, [k != "" for k in out.keys], out.events, out.ends))

    assert made == expected


def test_a_batch_that_reaches_the_calls_record_limit_goes_at_once_without_waiting_for_another_record():
    builder = RecordBuilder(replace(FIREHOSE, records=2), "text", False, "none", None)

    batches = list(builder.add([stored(1, ["a", "b"])], now=0.0))

    assert [len(b.records) for b in batches] == [2] and not builder.holding


def test_a_template_key_groups_packed_records_by_key_and_each_record_holds_one_key():
    block = stored(1, ["a1", "b1", "a2", "a3"], fields=[{"app": "a"}, {"app": "b"}, {"app": "a"}, {"app": "a"}])
    builder = RecordBuilder(KINESIS_STREAMS, "text", True, "none", PartitionKeys("{app}"))

    (batch,) = everything(builder, [block])

    assert list(zip(batch.keys, batch.records, strict=True)) == [("a", b"a1\n"), ("b", b"b1\n"), ("a", b"a2\na3\n")]


def test_a_record_lacking_the_keys_field_gets_a_random_key_and_is_counted():
    keys = PartitionKeys("{app}")
    builder = RecordBuilder(KINESIS_STREAMS, "text", False, "none", keys)

    (batch,) = everything(builder, [stored(1, ["no app field"])])

    assert batch.keys[0] and batch.keys[0] != "{app}" and keys.fallbacks == 1


def test_random_keys_differ_per_stream_record():
    builder = RecordBuilder(KINESIS_STREAMS, "text", False, "none", PartitionKeys(None))

    (batch,) = everything(builder, [stored(1, ["one", "two", "three"])])

    assert len(set(batch.keys)) == 3


def test_a_long_json_record_is_split_into_whole_json_objects_each_with_the_fields():
    builder = RecordBuilder(FIREHOSE, "json", False, "none", None)
    message = "\x01" * 400_000 + "é" * 400_000  # escaping writes \u0001 as six bytes

    (batch,) = everything(builder, [stored(1, [message], fields=[{"pod": "web-1"}])])

    events = [orjson.loads(data) for data in batch.records]
    assert len(events) > 2 and all(len(data) <= FIREHOSE.record_bytes for data in batch.records)
    assert "".join(e["message"] for e in events) == message and {e["pod"] for e in events} == {"web-1"}
    assert batch.events == [0] * (len(events) - 1) + [1] and batch.split == 1
    assert batch.end == Position(2, 0)


@given(records=st.lists(st.binary(max_size=50), min_size=1, max_size=10),
       keys=st.lists(st.text(min_size=1, max_size=20), min_size=10, max_size=10))
def test_call_bodies_carry_exactly_the_records_and_keys(records, keys):
    batch = Batch(records, keys[:len(records)], [1] * len(records), [0] * len(records))
    firehose = FirehoseApi("out", FirehoseOptions.model_validate(
        {"type": "firehose", "inputs": ["app"], "delivery_stream": "node-logs"}), 2)
    kinesis = KinesisStreamsApi("out", KinesisStreamsOptions.model_validate(
        {"type": "kinesis_streams", "inputs": ["app"], "stream_name": "node-logs"}), 2)

    to_firehose, to_kinesis = orjson.loads(firehose.body(batch)), orjson.loads(kinesis.body(batch))

    assert to_firehose["DeliveryStreamName"] == "node-logs" and to_kinesis["StreamName"] == "node-logs"
    assert [base64.b64decode(r["Data"]) for r in to_firehose["Records"]] == records
    assert [(base64.b64decode(r["Data"]), r["PartitionKey"]) for r in to_kinesis["Records"]] == \
        list(zip(records, batch.keys, strict=True))

"""The http sink's batches: within the limits, every record once and in order, each batch ending
where the spool cursor may go once it is accepted; encoding never fails a batch."""

from __future__ import annotations

import gzip

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.buffer.spool import Position, StoredBlock
from shipper.record import as_event
from shipper.sinks.http.request import Batch, RequestBuilder
from shipper.sinks.http_client.service import Outcome, _retry_after, meaning_of


def stored(block_id: int, messages: list[str], start: int = 0, fields: list | None = None) -> StoredBlock:
    times = [1_700_000_000_000_000_000 + i for i in range(len(messages))]
    return StoredBlock(block_id, "app", {"host": "node-1"}, times, messages, fields or [None] * len(messages), start)


def everything(builder: RequestBuilder, blocks: list[StoredBlock]) -> list[Batch]:
    batches = list(builder.add(blocks, now=0.0))
    last = builder.take()
    return batches + ([last] if last is not None else [])


texts = st.text(max_size=300)


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.lists(texts, min_size=1, max_size=30), min_size=1, max_size=6),
       max_bytes=st.integers(1024, 8192), max_events=st.integers(1, 50),
       encoding=st.sampled_from(["ndjson", "json_array", "text"]))
def test_batches_hold_every_record_once_in_order_within_the_limits(sizes, max_bytes, max_events, encoding):
    blocks = [stored(10 + n, messages) for n, messages in enumerate(sizes)]
    builder = RequestBuilder(encoding, "none", max_bytes, max_events)

    batches = everything(builder, blocks)

    sent: list[str] = []
    for batch in batches:
        body = builder.body(batch)
        assert batch.events <= max_events
        assert len(body) <= max_bytes + 2 or batch.events == 1  # a record alone larger than the limit goes alone
        if encoding == "text":
            sent += body.decode().split("\n")[:-1] if body else []
        else:
            lines = [orjson.loads(body)] if encoding == "json_array" else [[orjson.loads(x)] for x in
                                                                          body.splitlines()]
            sent += [event["message"] for group in lines for event in group]
    expected = [m for messages in sizes for m in messages]
    if encoding == "text":  # a message with line breaks spans lines there, as the encoding says
        assert "\n".join(sent) == "\n".join(expected)
    else:
        assert sent == expected
    assert [b.end for b in batches] == sorted(b.end for b in batches)
    assert batches[-1].end == Position(blocks[-1].id, len(blocks[-1].messages))


def test_a_batch_starts_at_the_first_unsent_record_of_a_half_sent_block():
    builder = RequestBuilder("ndjson", "none", 1 << 20, 100)

    (batch,) = everything(builder, [stored(7, ["a", "b", "c"], start=2)])

    assert [orjson.loads(item)["message"] for item in batch.items] == ["c"]
    assert batch.end == Position(7, 3)


def test_a_batch_that_reaches_max_batch_events_goes_at_once_without_waiting_for_another_record():
    builder = RequestBuilder("ndjson", "none", 1 << 20, 2)

    batches = list(builder.add([stored(1, ["a", "b"])], now=0.0))

    assert [b.events for b in batches] == [2] and not builder.holding


def test_a_record_larger_than_max_batch_bytes_is_sent_alone():
    builder = RequestBuilder("ndjson", "none", 1024, 100)

    batches = everything(builder, [stored(1, ["small", "x" * 5000, "small again"])])

    assert [b.events for b in batches] == [1, 1, 1]
    assert [b.end for b in batches] == [Position(1, 1), Position(1, 2), Position(1, 3)]


def test_a_value_json_cannot_hold_is_written_as_its_text_and_the_record_kept():
    builder = RequestBuilder("ndjson", "none", 1 << 20, 100)

    (batch,) = everything(builder, [stored(1, ["big number"], fields=[{"n": 2**70, "bad": "\udcff"}])])

    event = orjson.loads(batch.items[0])
    assert event["message"] == "big number" and event["n"] == str(2**70)
    assert batch.unencodable == 0


def test_gzip_bodies_decompress_to_the_plain_body():
    plain, packed = RequestBuilder("ndjson", "none", 1 << 20, 100), RequestBuilder("ndjson", "gzip", 1 << 20, 100)
    blocks = [stored(1, [f"line {n}" for n in range(100)])]

    (batch,) = everything(plain, blocks)

    assert gzip.decompress(packed.body(batch)) == plain.body(batch)


def test_halves_split_the_records_and_keep_the_end():
    builder = RequestBuilder("ndjson", "none", 1 << 20, 100)
    (batch,) = everything(builder, [stored(1, ["a", "b", "c"])])

    first, second = batch.halves()

    assert (first.events, second.events) == (1, 2) and first.end == second.end == batch.end


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.DELIVERED), (204, Outcome.DELIVERED), (408, Outcome.RETRY), (429, Outcome.RETRY),
    (500, Outcome.RETRY), (503, Outcome.RETRY), (413, Outcome.TOO_LARGE), (401, Outcome.UNAUTHORIZED),
    (403, Outcome.UNAUTHORIZED), (400, Outcome.REJECTED), (404, Outcome.REJECTED), (422, Outcome.REJECTED),
    (301, Outcome.REJECTED),
])
def test_what_each_answer_means(status, outcome):
    assert meaning_of(status, None).outcome is outcome


def test_retry_after_in_seconds_or_as_a_date_and_capped():
    assert _retry_after("3") == 3.0
    assert _retry_after("999999") == 300.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # already past: no wait
    assert _retry_after("soon") is None and _retry_after(None) is None


@given(st.text(max_size=40))
def test_retry_after_is_total_and_takes_only_what_the_rfc_allows(value):
    wait = _retry_after(value)

    assert wait is None or 0.0 <= wait <= 300.0
    assert _retry_after("\u00b2") is None and _retry_after("\u0663") is None  # digits to Python, not to RFC 9110


@settings(max_examples=100, deadline=None)
@given(messages=st.lists(st.text(max_size=50), min_size=1, max_size=10),
       common=st.dictionaries(st.sampled_from(["host", "file", "kubernetes", "source_type"]),
                              st.text(max_size=10) | st.dictionaries(st.text(max_size=5), st.text(max_size=5))),
       with_fields=st.booleans())
def test_each_json_record_is_the_records_json_view_whether_it_has_fields_or_not(messages, common, with_fields):
    fields = [({"stream": "stderr", "n": i} if with_fields and i % 2 else None) for i in range(len(messages))]
    block = StoredBlock(3, "app", common, [1_700_000_000_123_456_789 + i for i in range(len(messages))],
                        messages, fields, 0)

    (batch,) = everything(RequestBuilder("ndjson", "none", 1 << 20, 100), [block])

    assert [orjson.loads(item) for item in batch.items] == [as_event(common, block.record(i))
                                                            for i in range(len(messages))]

"""The spool's records as Cloud Logging entries: every entry one the API takes (checked by the strict
stand-in's own rules), each record once, in order, its message whole again from its pieces, under its
monitored resource, with its severity, labels and log name; batches within the limits."""

from __future__ import annotations

import gzip
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peers.fake_google_logging import FakeGoogleCloud, Invalid
from shipper.buffer.spool import StoredBlock
from shipper.sinks.encoding import json_object
from shipper.sinks.google_cloud_logging.config import GoogleCloudLoggingOptions
from shipper.sinks.google_cloud_logging.entries import MAX_ENTRY_BYTES, Batch, Encoded, EntryWriter, RequestBuilder
from shipper.sinks.google_cloud_logging.resource import NodeFacts, Resources
from shipper.sinks.google_cloud_logging.sink import partial_errors
from shipper.text import valid_text

PROJECT = "shipper-test"
POD = {"host": "node-1", "kubernetes": {"namespace": "shop", "pod_name": "web-1", "container_name": "web"}}
STDOUT, STDERR = {"stream": "stdout"}, {"stream": "stderr", "severity": "err"}
CHECKER = FakeGoogleCloud(PROJECT)  # its rules only: never started


def options(**given: Any) -> GoogleCloudLoggingOptions:
    return GoogleCloudLoggingOptions(type="google_cloud_logging", inputs=["app"], project_id=PROJECT, **given)


def writer(facts: NodeFacts | None = None, **given: Any) -> EntryWriter:
    chosen = options(**given)
    resources = Resources(PROJECT, chosen.resource_type, chosen.cluster_name, chosen.location)
    if facts is not None:
        resources.learn(facts)
    return EntryWriter(chosen, resources)


def entries_of(written: Encoded, index: int) -> list[dict[str, Any]]:
    """The entries record `index` became, whole (its place put back where a request would hold it once)."""
    item = written.items[index]
    assert item is not None
    whole = item if index in written.split else b"{" + written.places[index] + b"," + item
    return json.loads(b"[" + whole + b"]")


def checked(written: Encoded, index: int = 0) -> list[dict[str, Any]]:
    entries = entries_of(written, index)
    for entry in entries:
        assert len(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()) <= MAX_ENTRY_BYTES
        CHECKER._check_entry(entry)
    return entries


def as_the_api_reads(body: bytes) -> list[dict[str, Any]]:
    """A request's entries with its logName and resource where they have none, as the API applies them."""
    request = json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
    defaults = {key: request[key] for key in ("logName", "resource") if key in request}
    return [{**defaults, **entry} for entry in request["entries"]]


def message_of(entries: list[dict[str, Any]]) -> str:
    pieces = [entry.get("textPayload", entry.get("jsonPayload", {}).get("message")) for entry in entries]
    return "".join(pieces)


def test_a_container_record_goes_under_its_k8s_container_with_severity_labels_and_log_name():
    made = writer(NodeFacts(cluster_name="prod", location="europe-west1"),
                  labels={"app": "{kubernetes.pod_name}", "missing": "{kubernetes.labels.app}"})
    block = StoredBlock(7, "pods", POD, [1_700_000_000_123_456_789, 1_700_000_001_000_000_000], ["hello", "oops"],
                        [STDOUT, STDERR], 0)

    written = made.encoded(block)
    first, second = checked(written, 0)[0], checked(written, 1)[0]

    assert first["resource"] == {"type": "k8s_container", "labels": {
        "project_id": PROJECT, "location": "europe-west1", "cluster_name": "prod", "namespace_name": "shop",
        "pod_name": "web-1", "container_name": "web"}}
    logs = f"projects/{PROJECT}/logs"
    assert (first["logName"], second["logName"]) == (f"{logs}/stdout", f"{logs}/stderr")
    assert (first["severity"], second["severity"]) == ("DEFAULT", "ERROR")
    assert first["labels"] == {"app": "web-1"} and first["timestamp"] == "2023-11-14T22:13:20.123456789Z"
    assert first["jsonPayload"]["message"] == "hello" and first["jsonPayload"]["kubernetes"]["pod_name"] == "web-1"
    assert first["insertId"] != second["insertId"]


def test_without_cluster_facts_a_container_record_goes_under_global_and_that_is_known():
    made = writer()
    block = StoredBlock(1, "pods", POD, [1_700_000_000_000_000_000], ["x"], [STDOUT], 0)

    entry = checked(made.encoded(block))[0]

    assert entry["resource"] == {"type": "global", "labels": {"project_id": PROJECT}}
    assert made.resources.unplaced


def test_a_host_record_goes_under_its_gce_instance_and_a_missing_log_name_field_under_the_fallback():
    made = writer(NodeFacts(instance_id="123", zone="us-east1-b"), payload="text")
    block = StoredBlock(1, "journal", {"host": "vm-1"}, [1_700_000_000_000_000_000], ["started"], [None], 0)

    written = made.encoded(block)
    entry = checked(written)[0]

    assert entry["resource"] == {"type": "gce_instance", "labels": {
        "project_id": PROJECT, "instance_id": "123", "zone": "us-east1-b"}}
    assert entry["logName"] == f"projects/{PROJECT}/logs/shipper" and written.fallback_named == 1
    assert entry["textPayload"] == "started"


def test_log_names_keep_only_the_characters_the_api_takes_url_encoded():
    made = writer(log_name="{kubernetes.namespace}/a b:c")
    block = StoredBlock(1, "pods", POD, [1_700_000_000_000_000_000], ["x"], [STDOUT], 0)

    assert checked(made.encoded(block))[0]["logName"] == f"projects/{PROJECT}/logs/shop%2Fa_b_c"


record_fields = st.one_of(st.none(), st.just(STDOUT), st.just(STDERR),
                          st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.integers()),
                                          max_size=3))
messages = st.one_of(st.text(max_size=200), st.text(alphabet="\x00\x01\"\\é\U0001f600\ud800a", max_size=200),
                     st.builds(lambda n, char: char * n, st.integers(200_000, 700_000), st.sampled_from("a\x01é\"")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(records=st.lists(st.tuples(messages, record_fields), min_size=1, max_size=4),
       payload=st.sampled_from(["json", "text"]))
def test_every_record_becomes_entries_the_api_takes_that_hold_its_whole_message(records, payload):
    made = writer(NodeFacts(cluster_name="c", location="l"), payload=payload)
    block = StoredBlock(3, "pods", POD, [1_700_000_000_000_000_000 + i for i in range(len(records))],
                        [message for message, _ in records], [own for _, own in records], 0)

    written = made.encoded(block)

    assert len(written.items) == len(records)
    ids = set()
    for index, ((message, own), item) in enumerate(zip(records, written.items, strict=True)):
        assert item is not None
        entries = checked(written, index)
        whole = json.loads(json_object(POD, (0, message, own)) or b"{}")["message"]  # the encoding's repair
        assert message_of(entries) == (valid_text(message) if payload == "text" or len(entries) > 1 else whole)
        ids |= {entry["insertId"] for entry in entries}
        if len(entries) > 1:
            assert [entry["split"]["index"] for entry in entries] == list(range(len(entries)))
    assert len(ids) == sum(len(entries_of(written, index)) for index in range(len(records)))


def test_a_record_whose_fields_alone_fill_an_entry_is_split_as_its_json_text():
    made = writer()
    big = {"stream": "stdout", "blob": "z" * 300_000}
    block = StoredBlock(1, "app", {"host": "h"}, [1_700_000_000_000_000_000], ["short"], [big], 0)

    entries = checked(made.encoded(block))

    assert len(entries) == 2 and all("textPayload" in entry for entry in entries)
    assert json.loads(message_of(entries))["blob"] == big["blob"]


def test_batches_stay_within_the_limits_and_a_split_record_stays_in_one():
    made = writer()
    block = StoredBlock(1, "app", {"host": "h"}, [1_700_000_000_000_000_000 + i for i in range(6)],
                        ["a" * 100_000, "b", "c" * 600_000, "d", "e" * 100_000, "f"], [STDOUT] * 6, 0)
    seen: list[Any] = []
    builder = RequestBuilder(made, "gzip", 300 * 1024, 3, seen.append)

    batches = [*builder.add([block], 0.0), builder.take()]

    assert [batch.events for batch in batches if batch] == [2, 1, 3]
    bodies = [json.loads(gzip.decompress(builder.body(batch))) for batch in batches if batch]
    assert all(body["partialSuccess"] is True for body in bodies)
    assert [len(body["entries"]) for body in bodies] == [2, 3, 3]
    assert batches[1].split == {0: 3} and seen[0].split == {2: 3}


def test_a_request_gives_the_place_most_entries_share_once_and_the_others_their_own():
    made = writer(NodeFacts(cluster_name="c", location="l"))
    other = {**POD, "kubernetes": {**POD["kubernetes"], "pod_name": "db-0"}}
    blocks = [StoredBlock(1, "pods", POD, [1_700_000_000_000_000_000 + i for i in range(3)], ["a", "b", "c"],
                          [STDOUT, STDERR, STDOUT], 0),
              StoredBlock(2, "pods", other, [1_700_000_000_100_000_000], ["d" * 600_000], [STDOUT], 0),
              StoredBlock(3, "pods", other, [1_700_000_000_200_000_000], ["e"], [STDOUT], 0)]
    builder = RequestBuilder(made, "none", 5 << 20, 100, lambda written: None)
    batch = [*builder.add(blocks, 0.0), builder.take()][-1]
    assert batch is not None

    body = builder.body(batch)
    request = json.loads(body)
    entries = as_the_api_reads(body)

    assert request["logName"] == f"projects/{PROJECT}/logs/stdout"
    assert request["resource"]["labels"]["pod_name"] == "web-1"
    assert sum("resource" in entry for entry in request["entries"]) == 1 + 3 + 1  # stderr's, the split's 3, db-0's
    for entry in entries:
        CHECKER._check_entry(entry)
    assert [entry["resource"]["labels"]["pod_name"] for entry in entries] == ["web-1"] * 3 + ["db-0"] * 4
    assert [entry["logName"].rsplit("/", 1)[1] for entry in entries] == ["stdout", "stderr"] + ["stdout"] * 5


def test_entry_errors_are_counted_by_the_records_they_belong_to():
    batch = Batch(items=[b"{}", b"{},{},{}", b"{}"], split={1: 3})
    answer = json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [
        {"@type": "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors",
         "logEntryErrors": {"1": {"code": 3, "message": "bad"}, "3": {"code": 3, "message": "bad too"}}}]}}).encode()

    errors = partial_errors(answer)

    assert errors == {1: "bad", 3: "bad too"}
    assert batch.records_of_entries(set(errors)) == 1  # both are pieces of the second record
    assert Batch(items=[b"{}", b"{}"]).records_of_entries({0, 1, 5}) == 2
    assert partial_errors(b'{"error": {"code": 403}}') == {} and partial_errors(b"not json") == {}


def test_the_checker_refuses_what_the_api_refuses():
    good = checked(writer().encoded(StoredBlock(1, "a", {}, [1_700_000_000_000_000_000], ["m"], [None], 0)))[0]
    for broken in ({**good, "severity": "WARN"}, {**good, "logName": "projects/other/logs/x"},
                   {**good, "resource": {"type": "global", "labels": {}}}, {**good, "textPayload": "both"},
                   {**good, "unknown": 1}, {**good, "timestamp": "yesterday"}):
        try:
            CHECKER._check_entry(broken)
        except Invalid:
            continue
        raise AssertionError(f"taken: {broken}")

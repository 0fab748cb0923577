"""`honor_annotations`: a pod chooses how its own records are read (`shipper.io/parser`,
`shipper.io/multiline`, per container with `-<container>`), through the real `kubernetes` client and
a stand-in API server; a value that names nothing is logged once and ignored; a pod cannot reach the
agent's metadata; an annotation added to a running pod applies to the lines read after it."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from peers.kube_api import FakeKubeApi, pod
from shipper.sources.kubernetes_logs.annotated import chosen
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions
from tests.node import make_pod
from tests.sources.harness import until
from tests.sources.test_exceptions import VECTORS
from tests.sources.test_kubernetes_metadata import API_WAIT, api_options, kubernetes_logs, pod_records, write

UID = "11111111-2222-3333-4444-555555555555"
LABELS = {"component_kind": "source", "component_id": "pods", "component_type": "kubernetes_logs"}


@pytest.fixture
def api():
    server = FakeKubeApi().start()
    yield server
    server.stop()


def records(harness) -> list[tuple[str, dict | None]]:
    return [(record[1], record[2]) for _, record in harness.records()]


async def test_a_pods_parser_annotation_parses_its_records_and_cannot_claim_the_agents_names(tmp_path, api):
    api.add(pod("shop", "web-0", UID, annotations={"shipper.io/parser": "json"}))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    write(pod_dir, '{"level":"info","kubernetes":{"pod_name":"bank-0"},"host":"other"}', "not json")

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api, honor_annotations=["parser"])) as harness:
        await until(lambda: len(records(harness)) == 2, API_WAIT)

    assert records(harness) == [
        ('{"level":"info","kubernetes":{"pod_name":"bank-0"},"host":"other"}',
         {"level": "info", "log": {"kubernetes": {"pod_name": "bank-0"}, "host": "other"}, "stream": "stdout"}),
        ("not json", {"stream": "stdout"})]
    assert {k["pod_name"] for k, _ in pod_records(harness)} == {"web-0"}  # the agent's metadata is its own
    assert REGISTRY.get_sample_value("shipper_events_unparsed_total", {**LABELS, "reason": "format"}) >= 1


async def test_a_containers_own_annotation_wins_over_the_pods_and_others_keep_the_pods(tmp_path, api):
    api.add(pod("shop", "web-0", UID, containers=("app", "proxy"), annotations={
        "shipper.io/parser": "logfmt", "shipper.io/parser-proxy": "nginx_combined"}))
    app, proxy = make_pod(tmp_path, "shop", "web-0", "app", uid=UID), None
    proxy = make_pod(tmp_path, "shop", "web-0", "proxy", uid=UID, container_id="b" * 64)
    write(app, "level=warn msg=slow")
    write(proxy, '10.0.0.1 - - [02/Dec/2026:10:15:00 +0000] "GET / HTTP/1.1" 200 5')

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api, honor_annotations=["parser"])) as harness:
        await until(lambda: len(records(harness)) == 2, API_WAIT)

    by_container = {k["container_name"]: record[2] for k, record in
                    ((common["kubernetes"], record) for common, record in harness.records())}
    assert by_container["app"] == {"level": "warn", "msg": "slow", "stream": "stdout"}
    assert by_container["proxy"]["status"] == 200 and by_container["proxy"]["method"] == "GET"


async def test_a_multiline_annotation_groups_the_pods_traces(tmp_path, api):
    api.add(pod("shop", "web-0", UID, annotations={"shipper.io/multiline": "java, python"}))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    trace = VECTORS["java_caused_by"].split("\n")
    write(pod_dir, "before", *trace, "after")

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api, honor_annotations=["multiline"])) as harness:
        await until(lambda: len(records(harness)) == 3, API_WAIT)

    assert [message for message, _ in records(harness)] == ["before", "\n".join(trace), "after"]


async def test_annotations_the_source_does_not_honour_change_nothing(tmp_path, api):
    api.add(pod("shop", "web-0", UID, annotations={"shipper.io/parser": "json", "shipper.io/multiline": "java"}))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    trace = VECTORS["java"].split("\n")
    write(pod_dir, '{"a":1}', *trace)

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api)) as harness:
        await until(lambda: len(records(harness)) == 1 + len(trace), API_WAIT)

    assert records(harness)[0] == ('{"a":1}', {"stream": "stdout"})


async def test_an_annotation_that_names_nothing_is_logged_once_counted_and_ignored(tmp_path, api, caplog):
    api.add(pod("shop", "web-0", UID, annotations={"shipper.io/parser": "yaml", "shipper.io/multiline": "(unclosed"}))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    write(pod_dir, '{"a":1}')

    options = api_options(tmp_path, api, honor_annotations=["parser", "multiline"])
    async with kubernetes_logs(tmp_path, options) as harness:
        await until(lambda: len(records(harness)) == 1, API_WAIT)
        write(pod_dir, '{"a":2}')
        await until(lambda: len(records(harness)) == 2, API_WAIT)

    assert [fields for _, fields in records(harness)] == [{"stream": "stdout"}] * 2
    warnings = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len([w for w in warnings if "'yaml' is not a parse format" in w]) == 1
    assert len([w for w in warnings if "'(unclosed' is neither languages" in w]) == 1
    assert REGISTRY.get_sample_value("shipper_annotations_applied_total",
                                     {**LABELS, "annotation": "parser", "outcome": "ignored"}) >= 1


async def test_an_annotation_added_to_a_running_pod_applies_to_lines_read_after_it(tmp_path, api):
    api.add(pod("shop", "web-0", UID))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    trace = VECTORS["python"].split("\n")
    write(pod_dir, '{"n":1}', *trace[:2])

    options = api_options(tmp_path, api, honor_annotations=["parser", "multiline"])
    async with kubernetes_logs(tmp_path, options) as harness:
        await until(lambda: len(records(harness)) == 3, API_WAIT)
        api.modify(pod("shop", "web-0", UID,
                       annotations={"shipper.io/parser": "json", "shipper.io/multiline": "python"}))
        await until(lambda: harness.source.pods.lookup("shop", "web-0", UID).annotations, API_WAIT)
        write(pod_dir, '{"n":2}', *trace, "after")
        await until(lambda: "after" in [m for m, _ in records(harness)], API_WAIT)

    assert records(harness)[:3] == [('{"n":1}', {"stream": "stdout"}), (trace[0], {"stream": "stdout"}),
                                    (trace[1], {"stream": "stdout"})]
    assert records(harness)[3:] == [('{"n":2}', {"n": 2, "stream": "stdout"}),
                                    ("\n".join(trace), {"stream": "stdout"}), ("after", {"stream": "stdout"})]


def test_a_multiline_value_of_languages_means_exceptions_and_any_other_a_pattern():
    refused: list[tuple[str, str]] = []
    both = frozenset({"parser", "multiline"})

    languages = chosen({"shipper.io/multiline": "go,ruby"}, "app", both, None, refused).multiline
    pattern = chosen({"shipper.io/multiline": r"^\d{4}-"}, "app", both, None, refused).multiline

    assert (languages.mode, languages.languages) == ("exceptions", ["go", "ruby"])
    assert (pattern.mode, pattern.start_pattern) == ("pattern", r"^\d{4}-")
    assert refused == []


def test_honour_annotations_needs_the_api():
    with pytest.raises(ValueError, match="honor_annotations needs `api`"):
        KubernetesLogsOptions.model_validate({"type": "kubernetes_logs", "honor_annotations": ["parser"]})

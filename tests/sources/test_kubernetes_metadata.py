"""Pod metadata from a stand-in API server through the real `kubernetes` client, and the container
filters: enrichment, pods created after start or deleted while read, a broken watch, 410 Gone on
resume, the API unreachable, and every filter rule."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from peers.kube_api import FakeKubeApi, pod
from peers.kube_api import namespace as namespace_body
from shipper.record import lookup
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions as Options
from shipper.sources.kubernetes_logs.source import KubernetesLogsSource
from tests.agent_process import wait_for
from tests.journal import T0_US
from tests.node import cri_time, make_pod
from tests.sources.harness import SourceHarness, until

UID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def api():
    server = FakeKubeApi().start()
    yield server
    server.stop()


def write(pod_dir: Path, *lines: str) -> None:
    with open(pod_dir / "0.log", "a") as handle:
        handle.write("".join(f"{cri_time(T0_US * 1000)} stdout F {line}\n" for line in lines))


API_WAIT = 10.0  # seconds: the client's list and watch run in a thread against the stand-in server


def kubernetes_logs(tmp_path: Path, options: dict) -> SourceHarness:
    """The kubernetes_logs source on a real spool, for `async with`."""
    return SourceHarness(tmp_path, KubernetesLogsSource, "pods", Options.model_validate({
        "type": "kubernetes_logs", "poll_interval": "20ms", "discover_interval": "100ms",
        "include": [str(tmp_path / "containers" / "*.log")], **options}))


def pod_records(harness: SourceHarness) -> list[tuple[dict, str]]:
    """(kubernetes metadata, message) of every record the source spooled, in order."""
    return [(common["kubernetes"], record[1]) for common, record in harness.records()]


def api_options(tmp_path: Path, api: FakeKubeApi, **more) -> dict:
    return {"api": {"kubeconfig": str(api.kubeconfig(tmp_path / "kubeconfig")), "node_name": "node-1",
                    "annotations": ["team.example/*"], "exclude_labels": ["pod-template-hash"]}, **more}


async def test_records_of_an_existing_pod_carry_its_labels_annotations_node_and_image(tmp_path, api):
    api.add(pod("shop", "web-0", UID, labels={"app": "web", "pod-template-hash": "abc"},
                annotations={"team.example/owner": "payments", "other": "x"}))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    write(pod_dir, "hello")

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api)) as harness:
        await until(lambda: any("node_name" in k for k, _ in pod_records(harness)), API_WAIT)

    kubernetes, message = pod_records(harness)[-1]
    assert message == "hello"
    assert kubernetes["labels"] == {"app": "web"}
    assert kubernetes["annotations"] == {"team.example/owner": "payments"}
    assert kubernetes["node_name"] == "node-1" and kubernetes["container_image"] == "registry.example/app:1.0"
    assert lookup({"kubernetes": kubernetes}, (0, "x", None), ("kubernetes", "labels", "app")) == "web"


async def test_a_pod_created_after_start_is_learned_and_a_deleted_pods_metadata_stays_while_its_file_is_read(
        tmp_path, api):
    pod_dir = make_pod(tmp_path, "shop", "late-0", uid=UID)
    write(pod_dir, "before the API knew")
    async with kubernetes_logs(tmp_path, api_options(tmp_path, api)) as harness:
        await until(lambda: len(pod_records(harness)) == 1, API_WAIT)
        api.add(pod("shop", "late-0", UID, labels={"app": "late"}))
        await until(lambda: UID in harness.source.pods.pods, API_WAIT)
        write(pod_dir, "after")
        await until(lambda: len(pod_records(harness)) == 2, API_WAIT)
        api.delete("shop", "late-0")
        await until(lambda: harness.source.pods.pods[UID].deleted_at is not None, API_WAIT)
        write(pod_dir, "while the deleted pod's file drains")
        await until(lambda: len(pod_records(harness)) == 3, API_WAIT)

    kubernetes = [k for k, _ in pod_records(harness)]
    assert "node_name" not in kubernetes[0] and kubernetes[0]["pod_name"] == "late-0"  # path metadata flowed
    assert kubernetes[1]["labels"] == {"app": "late"} and kubernetes[2]["labels"] == {"app": "late"}
    assert REGISTRY.get_sample_value("shipper_events_without_api_metadata_total",
                                     {"component_kind": "source", "component_id": "pods",
                                      "component_type": "kubernetes_logs"}) >= 1


async def test_a_watch_broken_mid_stream_and_410_on_resume_lose_no_pod(tmp_path, api):
    async with kubernetes_logs(tmp_path, api_options(tmp_path, api)) as harness:
        cache = harness.source.pods
        await until(cache.synced.is_set, API_WAIT)
        api.add(pod("shop", "a-0", "uid-a"))
        await until(lambda: "uid-a" in cache.pods, API_WAIT)

        api.break_watches()
        api.add(pod("shop", "b-0", "uid-b"))
        await until(lambda: "uid-b" in cache.pods, API_WAIT)

        api.expire_history()
        api.break_watches()
        api.add(pod("shop", "c-0", "uid-c"))
        await until(lambda: "uid-c" in cache.pods, API_WAIT)

    lists = [r for r in api.requests if r.startswith("list")]
    assert len(lists) >= 2, "a 410 must be answered by listing again"
    assert all("fieldSelector=spec.nodeName%3Dnode-1" in r for r in api.requests if not r.startswith("get"))


async def test_with_the_api_unreachable_at_start_records_flow_with_path_metadata(tmp_path, api):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    kubeconfig.write_text(kubeconfig.read_text().replace(api.url, f"http://127.0.0.1:{closed_port}"))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    write(pod_dir, "one", "two")
    options = {"api": {"kubeconfig": str(kubeconfig), "node_name": "node-1"}}

    async with kubernetes_logs(tmp_path, options) as harness:
        await until(lambda: len(pod_records(harness)) == 2, API_WAIT)

    assert [(k["namespace"], k["pod_name"], m) for k, m in pod_records(harness)] == [("shop", "web-0", "one"),
                                                                                 ("shop", "web-0", "two")]


@pytest.mark.parametrize(("rule", "expected"), [
    ({"exclude_namespaces": ["kube-system"]}, {"web-0", "api-0", "db-0"}),
    ({"include_namespaces": ["kube-system"]}, {"proxy-0"}),
    ({"exclude_pod_labels": {"tier": "db"}}, {"web-0", "api-0", "proxy-0"}),
    ({"include_pod_labels": {"tier": "db"}}, {"db-0"}),
    ({}, {"web-0", "api-0", "db-0", "proxy-0"}),
    ({"honor_exclude_annotation": False}, {"web-0", "api-0", "db-0", "proxy-0"}),
])
async def test_filters_keep_excluded_containers_unread(tmp_path, api, rule, expected):
    pods = {"web-0": ("shop", {"tier": "web"}, {"shipper.io/exclude": "true"}),
            "api-0": ("shop", {"tier": "api"}, {"shipper.io/exclude-sidecar": "true"}),
            "db-0": ("shop", {"tier": "db"}, {}),
            "proxy-0": ("kube-system", {"tier": "net"}, {})}
    for i, (name, (namespace, labels, notes)) in enumerate(pods.items()):
        uid = f"{i}1111111-2222-3333-4444-555555555555"
        api.add(pod(namespace, name, uid, labels=labels, annotations=notes, containers=("app", "sidecar")))
        for container in ("app", "sidecar"):
            write(make_pod(tmp_path, namespace, name, container=container, uid=uid), f"{name}/{container}")
    wait_for(lambda: len(api.pods) == 4, 5, "pods in the API")

    wanted = {f"{name}/{c}" for name in expected for c in ("app", "sidecar")}
    if rule.get("honor_exclude_annotation", True):
        wanted -= {"web-0/app", "web-0/sidecar", "api-0/sidecar"}  # the annotations

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api, **rule)) as harness:
        await until(lambda: {m for _, m in pod_records(harness)} >= wanted, API_WAIT)

    assert {m for _, m in pod_records(harness)} == wanted  # every file exists from the start: none read late


@pytest.mark.parametrize(("owner", "labels", "expected"), [
    (("ReplicaSet", "web-7d4b9c6f8"), {"pod-template-hash": "7d4b9c6f8"}, ("Deployment", "web")),
    (("ReplicaSet", "legacy-rs"), {}, ("ReplicaSet", "legacy-rs")),  # no template hash: not a Deployment's
    (("Job", "backup-29403360"), {}, ("CronJob", "backup")),
    (("Job", "migrate-once"), {}, ("Job", "migrate-once")),
    (("StatefulSet", "db"), {}, ("StatefulSet", "db")),
    (("DaemonSet", "agent"), {}, ("DaemonSet", "agent")),
    (None, {}, ("Pod", "web-0")),
])
async def test_records_carry_the_workload_that_owns_the_pod_and_the_cluster_name(tmp_path, api, owner, labels,
                                                                                 expected):
    api.add(pod("shop", "web-0", UID, labels=labels, owner=owner))
    write(make_pod(tmp_path, "shop", "web-0", uid=UID), "hello")

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api, cluster_name="prod-eu")) as harness:
        await until(lambda: any("node_name" in k for k, _ in pod_records(harness)), API_WAIT)

    kubernetes, _ = pod_records(harness)[-1]
    assert (kubernetes["workload_kind"], kubernetes["workload_name"]) == expected
    assert kubernetes["cluster_name"] == "prod-eu"


async def test_a_label_added_to_a_running_pod_reaches_the_records_read_after_it(tmp_path, api):
    api.add(pod("shop", "web-0", UID, labels={"app": "web"}))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    write(pod_dir, "before")

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api)) as harness:
        await until(lambda: any("node_name" in k for k, _ in pod_records(harness)), API_WAIT)
        api.modify(pod("shop", "web-0", UID, labels={"app": "web", "release": "canary"},
                       annotations={"team.example/owner": "payments"}))
        await until(lambda: harness.source.pods is not None
                    and harness.source.pods.pods[UID].labels.get("release") == "canary", API_WAIT)
        write(pod_dir, "after")  # the file is still open: its fields follow the pod
        await until(lambda: [m for _, m in pod_records(harness)] == ["before", "after"], API_WAIT)

    (before, _), (after, _) = pod_records(harness)
    assert before["labels"] == {"app": "web"} and before["annotations"] == {}
    assert after["labels"] == {"app": "web", "release": "canary"}
    assert after["annotations"] == {"team.example/owner": "payments"}


API_FAILURES = {"component_kind": "source", "component_id": "pods", "component_type": "kubernetes_logs",
                "stage": "kubernetes_api", "error": "unreachable"}


async def test_a_watch_that_ends_at_once_is_retried_with_backoff_and_said_once(tmp_path, api, caplog):
    api.end_watches_at_once = True  # a proxy answering every watch with an empty 200
    failures_before = REGISTRY.get_sample_value("shipper_errors_total", API_FAILURES) or 0.0

    async with kubernetes_logs(tmp_path, api_options(tmp_path, api)) as harness:
        await until(harness.source.pods.synced.is_set, API_WAIT)
        await until(lambda: sum(r.startswith("watch") for r in api.requests) >= 3, API_WAIT)

    watches = sum(r.startswith("watch") for r in api.requests)
    assert watches <= 5  # 0.5 s, 1 s, 2 s ... apart; without backoff, hundreds in these seconds
    said = [r for r in caplog.records if "kubernetes API unreachable" in r.getMessage()]
    assert len(said) == 1 and "ended at once" in said[0].getMessage()
    assert (REGISTRY.get_sample_value("shipper_errors_total", API_FAILURES) or 0.0) - failures_before >= 2


def namespace_options(tmp_path: Path, api: FakeKubeApi, **more) -> dict:
    options = api_options(tmp_path, api, **more)
    options["api"].update(namespace_labels=True, namespace_annotations=["cost.example/*"])
    return options


async def test_records_carry_their_namespaces_labels_and_chosen_annotations_and_follow_their_changes(tmp_path, api):
    api.set_namespace(namespace_body("shop", labels={"team": "payments"},
                                annotations={"cost.example/centre": "cc-42", "other": "x"}))
    api.add(pod("shop", "web-0", UID))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    write(pod_dir, "before")

    async with kubernetes_logs(tmp_path, namespace_options(tmp_path, api)) as harness:
        await until(lambda: any("namespace_labels" in k for k, _ in pod_records(harness)), API_WAIT)
        api.set_namespace(namespace_body("shop", labels={"team": "payments", "tier": "gold"}))
        await until(lambda: harness.source.kind.namespaces is not None
                    and harness.source.kind.namespaces.lookup("shop").labels.get("tier") == "gold", API_WAIT)
        write(pod_dir, "after")
        await until(lambda: [m for _, m in pod_records(harness)][-1:] == ["after"], API_WAIT)

    first, last = pod_records(harness)[0][0], pod_records(harness)[-1][0]
    assert first["namespace_labels"] == {"team": "payments"}
    assert first["namespace_annotations"] == {"cost.example/centre": "cc-42"}
    assert last["namespace_labels"] == {"team": "payments", "tier": "gold"}
    assert any(r.startswith("watch namespaces") for r in api.requests)


@pytest.mark.parametrize(("rule", "expected"), [
    ({"include_namespace_labels": {"team": "payments"}}, {"web-0"}),
    ({"exclude_namespace_labels": {"team": "payments"}}, {"proxy-0"}),
])
async def test_namespace_label_filters_keep_other_namespaces_pods_unread(tmp_path, api, rule, expected):
    api.set_namespace(namespace_body("shop", labels={"team": "payments"}))
    api.set_namespace(namespace_body("kube-system", labels={"team": "platform"}))
    for i, (name, space) in enumerate((("web-0", "shop"), ("proxy-0", "kube-system"))):
        uid = f"{i}1111111-2222-3333-4444-555555555555"
        api.add(pod(space, name, uid))
        write(make_pod(tmp_path, space, name, uid=uid), name)
    wait_for(lambda: len(api.pods) == 2 and len(api.namespaces) == 2, 5, "pods and namespaces in the API")

    async with kubernetes_logs(tmp_path, namespace_options(tmp_path, api, **rule)) as harness:
        await until(lambda: {m for _, m in pod_records(harness)} >= expected, API_WAIT)

    assert {m for _, m in pod_records(harness)} == expected


def test_namespace_label_filters_need_the_namespace_watch():
    with pytest.raises(ValueError, match=re.escape("need `api: {namespace_labels: true}`")):
        Options.model_validate({"type": "kubernetes_logs", "api": {"node_name": "n"},
                                "include_namespace_labels": {"team": "payments"}})

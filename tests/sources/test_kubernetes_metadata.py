"""Pod metadata from a stand-in API server through the real `kubernetes` client, and the container
filters: enrichment, pods created after start or deleted while read, a broken watch, 410 Gone on
resume, the API unreachable, and every filter rule."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from peers.kube_api import FakeKubeApi, pod
from shipper.buffer.spool import Spool
from shipper.config.model import KubernetesLogsSource as Options
from shipper.record import lookup
from shipper.sources.kubernetes_logs.source import KubernetesLogsSource
from tests.agent_process import wait_for
from tests.journal import T0_US
from tests.node import cri_time, make_pod

UID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def api():
    server = FakeKubeApi().start()
    yield server
    server.stop()


def write(pod_dir: Path, *lines: str) -> None:
    with open(pod_dir / "0.log", "a") as handle:
        handle.write("".join(f"{cri_time(T0_US * 1000)} stdout F {line}\n" for line in lines))


class Harness:
    def __init__(self, tmp_path: Path, options: dict):
        self.tmp_path = tmp_path
        self.options = Options.model_validate({"type": "kubernetes_logs", "poll_interval": "20ms",
                                               "discover_interval": "100ms",
                                               "include": [str(tmp_path / "containers" / "*.log")], **options})

    async def __aenter__(self) -> Harness:
        self.spool = Spool.open(self.tmp_path / "data", 64 * 1024 * 1024)
        self.spool.attach_sinks({"out": ["pods"]})
        self.source = KubernetesLogsSource("pods", self.options, self.spool, "host")
        self.task = asyncio.create_task(self.source.run())
        return self

    async def __aexit__(self, *exc) -> None:
        self.source.stop()
        await self.task
        self.final = self.records()
        self.spool.close()

    def records(self) -> list[tuple[dict, str]]:
        """(kubernetes metadata, message) of every record in the spool, in order (kept after the end)."""
        if hasattr(self, "final"):
            return self.final
        out = []
        for block in self.spool.read("out", self.spool.cursor("out"), 1_000_000):
            out += [(block.common["kubernetes"], r[1]) for r in block.records[block.start:]]
        return out

    async def until(self, condition, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.02)


def api_options(tmp_path: Path, api: FakeKubeApi, **more) -> dict:
    return {"api": {"kubeconfig": str(api.kubeconfig(tmp_path / "kubeconfig")), "node_name": "node-1",
                    "annotations": ["team.example/*"], "exclude_labels": ["pod-template-hash"]}, **more}


async def test_records_of_an_existing_pod_carry_its_labels_annotations_node_and_image(tmp_path, api):
    api.add(pod("shop", "web-0", UID, labels={"app": "web", "pod-template-hash": "abc"},
                annotations={"team.example/owner": "payments", "other": "x"}))
    pod_dir = make_pod(tmp_path, "shop", "web-0", uid=UID)
    write(pod_dir, "hello")

    async with Harness(tmp_path, api_options(tmp_path, api)) as harness:
        await harness.until(lambda: any("node_name" in k for k, _ in harness.records()))

    kubernetes, message = harness.records()[-1]
    assert message == "hello"
    assert kubernetes["labels"] == {"app": "web"}
    assert kubernetes["annotations"] == {"team.example/owner": "payments"}
    assert kubernetes["node_name"] == "node-1" and kubernetes["container_image"] == "registry.example/app:1.0"
    assert lookup({"kubernetes": kubernetes}, (0, "x", None), ("kubernetes", "labels", "app")) == "web"


async def test_a_pod_created_after_start_is_learned_and_a_deleted_pods_metadata_stays_while_its_file_is_read(
        tmp_path, api):
    pod_dir = make_pod(tmp_path, "shop", "late-0", uid=UID)
    write(pod_dir, "before the API knew")
    async with Harness(tmp_path, api_options(tmp_path, api)) as harness:
        await harness.until(lambda: len(harness.records()) == 1)
        api.add(pod("shop", "late-0", UID, labels={"app": "late"}))
        await harness.until(lambda: UID in harness.source.pods.pods)
        write(pod_dir, "after")
        await harness.until(lambda: len(harness.records()) == 2)
        api.delete("shop", "late-0")
        await harness.until(lambda: harness.source.pods.pods[UID].deleted_at is not None)
        write(pod_dir, "while the deleted pod's file drains")
        await harness.until(lambda: len(harness.records()) == 3)

    kubernetes = [k for k, _ in harness.records()]
    assert "node_name" not in kubernetes[0] and kubernetes[0]["pod_name"] == "late-0"  # path metadata flowed
    assert kubernetes[1]["labels"] == {"app": "late"} and kubernetes[2]["labels"] == {"app": "late"}
    assert REGISTRY.get_sample_value("shipper_events_without_api_metadata_total",
                                     {"component_id": "pods", "component_type": "kubernetes_logs"}) >= 1


async def test_a_watch_broken_mid_stream_and_410_on_resume_lose_no_pod(tmp_path, api):
    async with Harness(tmp_path, api_options(tmp_path, api)) as harness:
        cache = harness.source.pods
        await harness.until(cache.synced.is_set)
        api.add(pod("shop", "a-0", "uid-a"))
        await harness.until(lambda: "uid-a" in cache.pods)

        api.break_watches()
        api.add(pod("shop", "b-0", "uid-b"))
        await harness.until(lambda: "uid-b" in cache.pods)

        api.expire_history()
        api.break_watches()
        api.add(pod("shop", "c-0", "uid-c"))
        await harness.until(lambda: "uid-c" in cache.pods)

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

    async with Harness(tmp_path, options) as harness:
        await harness.until(lambda: len(harness.records()) == 2)

    assert [(k["namespace"], k["pod_name"], m) for k, m in harness.records()] == [("shop", "web-0", "one"),
                                                                                 ("shop", "web-0", "two")]


@pytest.mark.parametrize(("rule", "expected"), [
    ({"exclude_namespaces": ["kube-system"]}, {"web-0", "api-0", "db-0"}),
    ({"include_namespaces": ["kube-system"]}, {"proxy-0"}),
    ({"exclude_pod_labels": {"tier": "db"}}, {"web-0", "api-0", "proxy-0"}),
    ({"include_pod_labels": {"tier": "db"}}, {"db-0"}),
    ({}, {"web-0", "api-0", "db-0", "proxy-0"}),
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
    wanted -= {"web-0/app", "web-0/sidecar", "api-0/sidecar"}  # the annotations

    async with Harness(tmp_path, api_options(tmp_path, api, **rule)) as harness:
        await harness.until(lambda: {m for _, m in harness.records()} >= wanted)

    assert {m for _, m in harness.records()} == wanted  # every file exists from the start: none read late

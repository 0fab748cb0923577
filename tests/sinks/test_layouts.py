"""`layout`: one container line written as the agent a user comes from writes it, so queries, metric
filters and alarms keep their field names. The expected objects follow each anchor's documented output
for a line read from a container log with pod metadata (Fluent Bit's kubernetes filter after tail with
the CRI parser; Vector's kubernetes_logs source; the OpenTelemetry Collector's CloudWatch Logs exporter),
without the fields we do not collect (Fluent Bit's `container_hash`, Vector's `pod_ip`)."""

from __future__ import annotations

import orjson
import pytest

from shipper.buffer.spool import StoredBlock
from shipper.layouts import event
from shipper.sinks.encoding import encoded
from shipper.templates import Template

T = 1_765_000_000_123_456_789
TEXT = "2025-12-06T05:46:40.123456789Z"
KUBERNETES = {"namespace": "shop", "pod_name": "web-0", "pod_uid": "5f1f0c4e-6f0a-4d5e-9c1e-0b8e8d2b9a11",
              "container_name": "app", "container_id": "8c3f0e1d", "node_name": "ip-10-0-1-12",
              "container_image": "nginx:1.27", "labels": {"app": "web"}, "annotations": {"team": "payments"},
              "workload_kind": "StatefulSet", "workload_name": "web"}
FILE = "/var/log/containers/web-0_shop_app-8c3f0e1d.log"
COMMON = {"file": FILE, "host": "ip-10-0-1-12", "source_type": "kubernetes_logs", "kubernetes": KUBERNETES}
RECORD = (T, "GET /cart 200", {"stream": "stdout"})

FLUENT_BIT = {
    "time": TEXT, "log": "GET /cart 200", "file": FILE, "host": "ip-10-0-1-12", "source_type": "kubernetes_logs",
    "kubernetes": {"namespace_name": "shop", "pod_name": "web-0", "pod_id": "5f1f0c4e-6f0a-4d5e-9c1e-0b8e8d2b9a11",
                   "container_name": "app", "docker_id": "8c3f0e1d", "host": "ip-10-0-1-12",
                   "container_image": "nginx:1.27", "labels": {"app": "web"}, "annotations": {"team": "payments"},
                   "workload_kind": "StatefulSet", "workload_name": "web"},
    "stream": "stdout",
}
VECTOR = {
    "timestamp": TEXT, "message": "GET /cart 200", "file": FILE, "host": "ip-10-0-1-12",
    "source_type": "kubernetes_logs",
    "kubernetes": {"pod_namespace": "shop", "pod_name": "web-0", "pod_uid": "5f1f0c4e-6f0a-4d5e-9c1e-0b8e8d2b9a11",
                   "container_name": "app", "container_id": "8c3f0e1d", "pod_node_name": "ip-10-0-1-12",
                   "container_image": "nginx:1.27", "pod_labels": {"app": "web"},
                   "pod_annotations": {"team": "payments"}, "workload_kind": "StatefulSet", "workload_name": "web"},
    "stream": "stdout",
}
OTEL = {
    "body": "GET /cart 200", "time_unix_nano": T,
    "attributes": {"log.file.path": FILE, "source_type": "kubernetes_logs", "log.iostream": "stdout"},
    "resource": {"k8s.namespace.name": "shop", "k8s.pod.name": "web-0",
                 "k8s.pod.uid": "5f1f0c4e-6f0a-4d5e-9c1e-0b8e8d2b9a11", "k8s.container.name": "app",
                 "container.id": "8c3f0e1d", "k8s.node.name": "ip-10-0-1-12", "container.image.name": "nginx:1.27",
                 "k8s.pod.label.app": "web", "k8s.pod.annotation.team": "payments", "k8s.statefulset.name": "web",
                 "host.name": "ip-10-0-1-12"},
}


@pytest.mark.parametrize(("layout", "expected"), [("fluent_bit", FLUENT_BIT), ("vector", VECTOR), ("otel", OTEL)])
def test_a_container_line_is_written_as_the_anchor_writes_it(layout, expected):
    assert event(layout, COMMON, RECORD) == expected


@pytest.mark.parametrize("layout", ["shipper", "fluent_bit", "vector", "otel"])
def test_the_json_sinks_encode_each_record_in_their_layout(layout):
    block = StoredBlock(1, "pods", COMMON, [T, T + 1], ["GET /cart 200", "GET /pay 500"],
                        [{"stream": "stdout"}, {"stream": "stderr"}], 0)

    objects = [orjson.loads(item) for item in encoded(block, "json", layout) if item is not None]

    assert objects == [event(layout, COMMON, record) for record in block.records]


def test_the_layout_leaves_the_agents_trusted_metadata_to_the_agent():
    forged = (T, "x", {"kubernetes": {"namespace_name": "kube-system"}, "log": "forged"})

    written = event("fluent_bit", COMMON, forged)

    assert written["kubernetes"]["namespace_name"] == "shop"
    assert written["log"] == "x"


@pytest.mark.parametrize(("layout", "template", "path"), [
    ("fluent_bit", "/eks/{kubernetes.namespace_name}", ("kubernetes", "namespace")),
    ("fluent_bit", "{log}", ("message",)),
    ("vector", "{kubernetes.pod_labels.app}", ("kubernetes", "labels", "app")),
    ("otel", "{k8s.namespace.name}", ("kubernetes", "namespace")),
    ("vector", "{kubernetes.namespace}", ("kubernetes", "namespace")),  # ours are always accepted
])
def test_templates_accept_their_layouts_names_as_well_as_ours(layout, template, path):
    assert Template(template, layout).fields[-1] == path

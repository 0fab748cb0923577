"""The resource of a block's records: the semantic conventions' names of its pod, container and host,
and a service.name."""

from __future__ import annotations

from shipper.sinks.opentelemetry.resource import resource_of

POD = {"host": "ip-10-0-1-7", "file": "/var/log/pods/shop_web-7d9f_u1/web/0.log", "source_type": "kubernetes_logs",
       "kubernetes": {"namespace": "shop", "pod_name": "web-7d9f-abcde", "pod_uid": "u1", "container_name": "web",
                      "container_id": "containerd://c0ffee", "node_name": "ip-10-0-1-7", "cluster_name": "prod",
                      "labels": {"app": "web"}, "annotations": {}, "workload_kind": "Deployment",
                      "workload_name": "web-shop", "container_image": "registry.example/shop/web:1.4.2"}}


def test_a_pods_fields_become_the_semantic_conventions_resource():
    assert resource_of(POD, {}) == {
        "host.name": "ip-10-0-1-7", "k8s.namespace.name": "shop", "k8s.pod.name": "web-7d9f-abcde", "k8s.pod.uid": "u1",
        "k8s.container.name": "web", "container.id": "containerd://c0ffee", "k8s.node.name": "ip-10-0-1-7",
        "k8s.cluster.name": "prod", "k8s.pod.label.app": "web", "k8s.deployment.name": "web-shop",
        "container.image.name": "registry.example/shop/web:1.4.2", "service.name": "web-shop"}


def test_service_name_is_the_workloads_else_the_containers_and_the_operators_when_set():
    daemon = {"kubernetes": {**POD["kubernetes"], "workload_kind": "DaemonSet", "workload_name": "agent"}}
    bare = {"kubernetes": {"container_name": "sidecar", "workload_kind": "Pod", "workload_name": "bare"}}

    assert resource_of(daemon, {})["service.name"] == "agent"
    assert resource_of(bare, {})["service.name"] == "sidecar"
    assert resource_of(bare, {"service.name": "checkout"})["service.name"] == "checkout"
    assert "service.name" not in resource_of({"host": "h", "file": "/var/log/syslog"}, {})

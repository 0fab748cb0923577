"""A block's common fields split into the resource (by OpenTelemetry's semantic conventions) and the
attributes every record of it carries."""

from __future__ import annotations

from shipper.sinks.opentelemetry.resource import split

POD = {"host": "ip-10-0-1-7", "file": "/var/log/pods/shop_web-7d9f_u1/web/0.log", "source_type": "kubernetes_logs",
       "kubernetes": {"namespace": "shop", "pod_name": "web-7d9f-abcde", "pod_uid": "u1", "container_name": "web",
                      "container_id": "containerd://c0ffee", "node_name": "ip-10-0-1-7", "cluster_name": "prod",
                      "labels": {"app": "web"}, "annotations": {}, "workload_kind": "Deployment",
                      "workload_name": "web", "container_image": "registry.example/shop/web:1.4.2"}}


def test_a_pods_fields_become_the_semantic_conventions_resource_and_its_file_a_record_attribute():
    resource, record = split(POD, {})

    assert resource == {
        "host.name": "ip-10-0-1-7", "k8s.namespace.name": "shop", "k8s.pod.name": "web-7d9f-abcde", "k8s.pod.uid": "u1",
        "k8s.container.name": "web", "container.id": "containerd://c0ffee", "k8s.node.name": "ip-10-0-1-7",
        "k8s.cluster.name": "prod", "k8s.pod.label.app": "web", "k8s.deployment.name": "web",
        "container.image.name": "registry.example/shop/web", "container.image.tags": ["1.4.2"], "service.name": "web"}
    assert record == {"log.file.path": "/var/log/pods/shop_web-7d9f_u1/web/0.log"}


def test_service_name_is_the_workloads_else_the_containers_and_the_operators_when_set():
    daemon = {"kubernetes": {**POD["kubernetes"], "workload_kind": "DaemonSet", "workload_name": "agent"}}
    bare = {"kubernetes": {"container_name": "sidecar", "workload_kind": "Pod", "workload_name": "bare"}}

    assert split(daemon, {})[0]["service.name"] == "agent"
    assert split(bare, {})[0]["service.name"] == "sidecar"
    assert split(bare, {"service.name": "checkout"})[0]["service.name"] == "checkout"
    assert "service.name" not in split({"host": "h", "file": "/var/log/syslog"}, {})[0]


def test_an_image_by_digest_keeps_its_whole_reference_as_its_name():
    pinned = {"kubernetes": {"container_image": "registry.example:5000/web@sha256:ab12"}}
    port_only = {"kubernetes": {"container_image": "registry.example:5000/web"}}

    assert split(pinned, {})[0]["container.image.name"] == "registry.example:5000/web@sha256:ab12"
    assert split(port_only, {})[0] == {"container.image.name": "registry.example:5000/web"}

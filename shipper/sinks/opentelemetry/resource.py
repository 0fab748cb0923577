"""Which resource a block's records come from, in OpenTelemetry's semantic conventions.

A block's common fields (what every record of one file or journal read shares) are split in two:
what names the source (host, pod, container, workload) becomes the resource's attributes, by the
conventions' names (`k8s.pod.name`, `container.id`, `host.name`...); the rest (the file's path as
`log.file.path`, anything else the agent set) becomes attributes of each record. Records of
different blocks with the same resource are sent under one ResourceLogs.

`service.name`, which every backend groups by, is the workload's name (a Deployment's, a
DaemonSet's...), else the container's; without either (a journal, a plain file) none is set. The
sink's `resource_attributes` set it, and any other, explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# kubernetes.<key> -> resource attribute
_KUBERNETES = {"namespace": "k8s.namespace.name", "pod_name": "k8s.pod.name", "pod_uid": "k8s.pod.uid",
               "container_name": "k8s.container.name", "container_id": "container.id",
               "node_name": "k8s.node.name", "cluster_name": "k8s.cluster.name"}
# kubernetes.<key> holding a mapping -> prefix of one resource attribute per entry
_KUBERNETES_MAPS = {"labels": "k8s.pod.label.", "annotations": "k8s.pod.annotation.",
                    "namespace_labels": "k8s.namespace.label.", "namespace_annotations": "k8s.namespace.annotation."}
_WORKLOADS = {"Deployment": "k8s.deployment.name", "StatefulSet": "k8s.statefulset.name",
              "DaemonSet": "k8s.daemonset.name", "Job": "k8s.job.name", "CronJob": "k8s.cronjob.name",
              "ReplicaSet": "k8s.replicaset.name"}
_RECORD_NAMES = {"file": "log.file.path"}  # common fields that describe the record, not the source
_DROPPED = frozenset({"source_type"})  # the agent's own bookkeeping: no receiver needs it


def split(common: Mapping[str, Any], overrides: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(resource attributes, record attributes) of a block's common fields; `overrides` (the sink's
    `resource_attributes`) are set last."""
    resource: dict[str, Any] = {}
    record: dict[str, Any] = {}
    for name, value in common.items():
        if name == "host" and isinstance(value, str):
            resource["host.name"] = value
        elif name == "kubernetes" and isinstance(value, Mapping):
            resource.update(_kubernetes(value))
        elif name not in _DROPPED:
            record[_RECORD_NAMES.get(name, name)] = value
    service = _workload_name(resource) or resource.get("k8s.container.name")
    if service:
        resource["service.name"] = service
    resource.update(overrides)
    return resource, record


def _kubernetes(kubernetes: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in kubernetes.items():
        if key in _KUBERNETES and isinstance(value, str) and value:
            out[_KUBERNETES[key]] = value
        elif key in _KUBERNETES_MAPS and isinstance(value, Mapping):
            out.update((_KUBERNETES_MAPS[key] + str(name), item) for name, item in value.items())
        elif key == "container_image" and isinstance(value, str) and value:
            out.update(_image(value))
    kind, name = kubernetes.get("workload_kind"), kubernetes.get("workload_name")
    if kind in _WORKLOADS and isinstance(name, str) and name:
        out[_WORKLOADS[kind]] = name
    return out


def _workload_name(resource: Mapping[str, Any]) -> str | None:
    return next((resource[name] for name in _WORKLOADS.values() if name in resource), None)


def _image(reference: str) -> dict[str, Any]:
    """container.image.name and .tags of `registry/path:tag` (a digest reference keeps its name whole)."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag or "@" in reference:
        return {"container.image.name": reference}
    return {"container.image.name": name, "container.image.tags": [tag]}

"""Record layouts: the names the agents users come from give the fields this agent writes.

A sink's `layout` renames the agent's own metadata when a record is encoded (the spool keeps one
form, and trusted metadata stays the agent's), so Insights queries, metric filters and alarms
written for the old agent keep working:

- `shipper`: the agent's names (docs/records.md).
- `fluent_bit`: as Fluent Bit's kubernetes filter writes a record read by its tail input with the
  CRI parser: `time` (RFC 3339), `log` for the message, `kubernetes.{namespace_name, pod_name,
  pod_id, container_name, container_image, docker_id, host, labels, annotations}`.
- `vector`: as Vector's `kubernetes_logs` source writes: `timestamp`, `message`, `file`, `stream`,
  `source_type`, `kubernetes.{pod_namespace, pod_name, pod_uid, container_name, container_image,
  container_id, pod_node_name, pod_labels, pod_annotations}`.
- `otel`: as the OpenTelemetry Collector's CloudWatch Logs exporter writes a log record: `body`,
  `attributes` (the record's own fields; `stream` as `log.iostream`, `file` as `log.file.path`) and
  `resource` by the semantic conventions (`k8s.namespace.name`, `k8s.pod.name`, `k8s.pod.uid`,
  `k8s.container.name`, `container.id`, `container.image.name`, `k8s.node.name`, `k8s.cluster.name`,
  `k8s.<workload>.name`, `k8s.pod.label.<key>`, `k8s.pod.annotation.<key>`, `host.name`), with
  `time_unix_nano`.

Templates of a sink accept its layout's names as well as the agent's (`ours`); a name of another
agent's spelling elsewhere is told apart by `peer_spelling`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipper.record import FIELDS, MESSAGE, TIMESTAMP, Record, as_event, rfc3339

LAYOUTS = ("shipper", "fluent_bit", "vector", "otel")
PEERS = {"fluent_bit": "Fluent Bit", "vector": "Vector", "otel": "OpenTelemetry"}

# layout -> {their path: our path}; only the names that differ from ours
PEER_PATHS: dict[str, dict[tuple[str, ...], tuple[str, ...]]] = {
    "fluent_bit": {
        ("log",): ("message",),
        ("kubernetes", "namespace_name"): ("kubernetes", "namespace"),
        ("kubernetes", "pod_id"): ("kubernetes", "pod_uid"),
        ("kubernetes", "docker_id"): ("kubernetes", "container_id"),
        ("kubernetes", "host"): ("kubernetes", "node_name"),
    },
    "vector": {
        ("kubernetes", "pod_namespace"): ("kubernetes", "namespace"),
        ("kubernetes", "pod_node_name"): ("kubernetes", "node_name"),
        ("kubernetes", "pod_labels"): ("kubernetes", "labels"),
        ("kubernetes", "pod_annotations"): ("kubernetes", "annotations"),
    },
    "otel": {
        ("body",): ("message",),
        ("k8s", "namespace", "name"): ("kubernetes", "namespace"),
        ("k8s", "pod", "name"): ("kubernetes", "pod_name"),
        ("k8s", "pod", "uid"): ("kubernetes", "pod_uid"),
        ("k8s", "container", "name"): ("kubernetes", "container_name"),
        ("k8s", "node", "name"): ("kubernetes", "node_name"),
        ("k8s", "cluster", "name"): ("kubernetes", "cluster_name"),
        ("container", "id"): ("kubernetes", "container_id"),
        ("container", "image", "name"): ("kubernetes", "container_image"),
        ("host", "name"): ("host",),
    },
}

_FLUENT_BIT_KUBERNETES = {"namespace": "namespace_name", "pod_uid": "pod_id", "container_id": "docker_id",
                          "node_name": "host"}
_VECTOR_KUBERNETES = {"namespace": "pod_namespace", "node_name": "pod_node_name", "labels": "pod_labels",
                      "annotations": "pod_annotations"}
_OTEL_RESOURCE = {"namespace": "k8s.namespace.name", "pod_name": "k8s.pod.name", "pod_uid": "k8s.pod.uid",
                  "container_name": "k8s.container.name", "container_id": "container.id",
                  "container_image": "container.image.name", "node_name": "k8s.node.name",
                  "cluster_name": "k8s.cluster.name"}
OTEL_WORKLOADS = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset",
                   "Job": "job", "CronJob": "cronjob", "ReplicaSet": "replicaset"}
_OTEL_ATTRIBUTES = {"stream": "log.iostream", "file": "log.file.path"}


def ours(path: tuple[str, ...], layout: str | None = None) -> tuple[str, tuple[str, ...]] | None:
    """(the peer, our path) for a path in `layout`'s spelling (any peer's when None); a prefix counts:
    Vector's `kubernetes.pod_labels.app` is our `kubernetes.labels.app`. None when no peer spells it so."""
    for name, paths in PEER_PATHS.items():
        if layout is not None and name != layout:
            continue
        for length in range(len(path), 0, -1):
            translated = paths.get(path[:length])
            if translated is not None:
                return PEERS[name], translated + path[length:]
    return None


def event(layout: str, common: Mapping[str, Any], record: Record) -> dict[str, Any]:
    """The JSON object of a record in `layout` (`as_event` for `shipper`)."""
    if layout == "fluent_bit":
        return _fluent_bit(common, record)
    if layout == "vector":
        return _renamed_kubernetes(as_event(common, record), _VECTOR_KUBERNETES)
    if layout == "otel":
        return _otel(common, record)
    return as_event(common, record)


def _fluent_bit(common: Mapping[str, Any], record: Record) -> dict[str, Any]:
    mapped = as_event(common, record)
    del mapped["timestamp"], mapped["message"]
    out = {"time": rfc3339(record[TIMESTAMP]), "log": record[MESSAGE]}
    out.update((key, value) for key, value in mapped.items() if key not in out)
    return _renamed_kubernetes(out, _FLUENT_BIT_KUBERNETES)


def _renamed_kubernetes(mapped: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    kubernetes = mapped.get("kubernetes")
    if isinstance(kubernetes, Mapping):
        mapped["kubernetes"] = {names.get(key, key): value for key, value in kubernetes.items()}
    return mapped


def _otel(common: Mapping[str, Any], record: Record) -> dict[str, Any]:
    resource, attributes = otel_resource(common), otel_attributes(common, record[FIELDS])
    out: dict[str, Any] = {"body": record[MESSAGE], "time_unix_nano": record[TIMESTAMP]}
    if attributes:
        out["attributes"] = attributes
    if resource:
        out["resource"] = resource
    return out


def otel_resource(common: Mapping[str, Any]) -> dict[str, Any]:
    """The resource a block's common fields name, by OpenTelemetry's semantic conventions (the `otel`
    layout's `resource`, and the opentelemetry sink's resource attributes)."""
    resource: dict[str, Any] = {}
    kubernetes = common.get("kubernetes")
    if isinstance(kubernetes, Mapping):
        for key, value in kubernetes.items():
            if key in _OTEL_RESOURCE:
                resource[_OTEL_RESOURCE[key]] = value
            elif key in ("labels", "annotations") and isinstance(value, Mapping):
                resource.update((f"k8s.pod.{key[:-1]}.{name}", text) for name, text in value.items())
        workload = OTEL_WORKLOADS.get(str(kubernetes.get("workload_kind")))
        if workload and kubernetes.get("workload_name"):
            resource[f"k8s.{workload}.name"] = kubernetes["workload_name"]
    if "host" in common:
        resource["host.name"] = common["host"]
    return resource


def otel_attributes(common: Mapping[str, Any], own: Mapping[str, Any] | None) -> dict[str, Any]:
    """A record's attributes: the common fields that are not its resource, then its own fields (the
    agent's win a clash), `stream` as `log.iostream` and `file` as `log.file.path`."""
    attributes = {_OTEL_ATTRIBUTES.get(key, key): value for key, value in common.items()
                  if key not in ("kubernetes", "host")}
    if own:
        attributes.update((_OTEL_ATTRIBUTES.get(key, key), value) for key, value in own.items()
                          if _OTEL_ATTRIBUTES.get(key, key) not in attributes)
    return attributes

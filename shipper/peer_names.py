"""What the agents users come from call the fields this agent writes.

Fluent Bit's kubernetes filter writes `log` and `kubernetes.{namespace_name, pod_name, pod_id,
container_name, container_image, docker_id, host, labels, annotations}`; Vector's `kubernetes_logs`
source writes `message` and `kubernetes.{pod_namespace, pod_name, pod_uid, container_name,
container_image, container_id, pod_node_name, pod_labels, pod_annotations}`. `ours` turns a path in
either spelling into this agent's, so a template or a query written for them can be told its
spelling here.
"""

from __future__ import annotations

# peer -> {their path: our path}; only the names that differ from ours
PEER_PATHS: dict[str, dict[tuple[str, ...], tuple[str, ...]]] = {
    "Fluent Bit": {
        ("log",): ("message",),
        ("kubernetes", "namespace_name"): ("kubernetes", "namespace"),
        ("kubernetes", "pod_id"): ("kubernetes", "pod_uid"),
        ("kubernetes", "docker_id"): ("kubernetes", "container_id"),
        ("kubernetes", "host"): ("kubernetes", "node_name"),
    },
    "Vector": {
        ("kubernetes", "pod_namespace"): ("kubernetes", "namespace"),
        ("kubernetes", "pod_node_name"): ("kubernetes", "node_name"),
        ("kubernetes", "pod_labels"): ("kubernetes", "labels"),
        ("kubernetes", "pod_annotations"): ("kubernetes", "annotations"),
    },
}


def ours(path: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """(the peer, our path) for a path in a peer's spelling (a prefix counts: Vector's
    `kubernetes.pod_labels.app` is our `kubernetes.labels.app`); None when no peer spells it so."""
    for peer, paths in PEER_PATHS.items():
        for length in range(len(path), 0, -1):
            translated = paths.get(path[:length])
            if translated is not None:
                return peer, translated + path[length:]
    return None

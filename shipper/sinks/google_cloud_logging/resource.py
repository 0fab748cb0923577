"""The monitored resource each entry is written under, as Cloud Logging's resource types define them:

- `k8s_container` {project_id, location, cluster_name, namespace_name, pod_name, container_name} for a
  record with the agent's Kubernetes metadata, as GKE's own agent writes container logs;
- `gce_instance` {project_id, instance_id, zone} on a Compute Engine host;
- `global` {project_id} otherwise.

The cluster's name and location, and the instance's id and zone, come from the options or, left out,
from the GKE/GCE metadata server (`node_facts`, read once at start). A `k8s_container` resource
without a cluster name and location (or a `gce_instance` without its id and zone) cannot be written:
such records go under `global` (said once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from shipper.record import dig

METADATA_HOST_VARIABLE = "GCE_METADATA_HOST"  # the variable google-auth reads too
METADATA_TIMEOUT = 3.0  # seconds; off Google Cloud the name does not resolve and the lookup ends at once
_K8S_FIELDS = (("namespace_name", ("kubernetes", "namespace")), ("pod_name", ("kubernetes", "pod_name")),
               ("container_name", ("kubernetes", "container_name")))


@dataclass(frozen=True, slots=True)
class NodeFacts:
    cluster_name: str | None = None
    location: str | None = None
    instance_id: str | None = None
    zone: str | None = None


async def node_facts(timeout: float = METADATA_TIMEOUT) -> NodeFacts:
    """What the metadata server says of this node; all None off Google Cloud."""
    host = os.environ.get(METADATA_HOST_VARIABLE) or "metadata.google.internal"
    paths = {"cluster_name": "instance/attributes/cluster-name", "location": "instance/attributes/cluster-location",
             "instance_id": "instance/id", "zone": "instance/zone"}
    said: dict[str, str | None] = {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False) as session:
            for name, path in paths.items():
                said[name] = await _metadata(session, f"http://{host}/computeMetadata/v1/{path}")
    except (aiohttp.ClientError, OSError, TimeoutError):
        return NodeFacts(**{name: said.get(name) for name in paths})
    zone = said["zone"]
    return NodeFacts(said["cluster_name"], said["location"], said["instance_id"],
                     zone.rsplit("/", 1)[-1] if zone else None)  # projects/123/zones/us-central1-a


async def _metadata(session: aiohttp.ClientSession, url: str) -> str | None:
    async with session.get(url, headers={"Metadata-Flavor": "Google"}, allow_redirects=False) as answer:
        if answer.status != 200 or answer.headers.get("Metadata-Flavor") != "Google":
            return None
        text = (await answer.content.read(1024)).decode("utf-8", "replace").strip()
        return text or None


class Resources:
    """The resource of records by their common fields, as JSON bytes."""

    def __init__(self, project_id: str, resource_type: str, cluster_name: str | None, location: str | None):
        self.project_id, self.resource_type = project_id, resource_type
        self.cluster_name, self.location = cluster_name, location
        self.instance: tuple[str, str] | None = None
        self.unplaced = False  # records went under `global`: their resource's labels are not known
        self._made: dict[tuple[str, ...], bytes] = {}

    @property
    def wants_facts(self) -> bool:
        """Whether the metadata server may tell what the options left out."""
        cluster = self.resource_type in ("auto", "k8s_container") and not (self.cluster_name and self.location)
        return cluster or self.resource_type in ("auto", "gce_instance")

    def learn(self, facts: NodeFacts) -> None:
        """What the options left out, from the metadata server."""
        self.cluster_name, self.location = self.cluster_name or facts.cluster_name, self.location or facts.location
        self.instance = (facts.instance_id, facts.zone) if facts.instance_id and facts.zone else None
        self._made.clear()

    def of(self, common: Mapping[str, Any]) -> bytes:
        kind = self.resource_type
        pod = tuple(_text(dig(common, path)) for _, path in _K8S_FIELDS)
        if kind == "auto":
            kind = "k8s_container" if pod[1] else "gce_instance" if self.instance else "global"
        if (kind == "k8s_container" and not (self.cluster_name and self.location)) or \
                (kind == "gce_instance" and not self.instance):
            self.unplaced, kind = True, "global"
        key = (kind, *pod) if kind == "k8s_container" else (kind,)
        made = self._made.get(key)
        if made is None:
            if len(self._made) >= 4096:  # pods come and go: the table stays bounded
                self._made.clear()
            made = self._made[key] = orjson.dumps({"type": kind, "labels": self._labels(kind, pod)})
        return made

    def _labels(self, kind: str, pod: tuple[str, ...]) -> dict[str, str]:
        labels = {"project_id": self.project_id}
        if kind == "k8s_container":
            assert self.cluster_name is not None and self.location is not None
            labels |= {"location": self.location, "cluster_name": self.cluster_name}
            labels |= {name: value for (name, _), value in zip(_K8S_FIELDS, pod, strict=True)}
        elif kind == "gce_instance":
            instance_id, zone = self.instance or ("", "")
            labels |= {"instance_id": instance_id, "zone": zone}
        return labels


def _text(value: Any) -> str:
    return value[:1024] if isinstance(value, str) else "" if value is None else str(value)[:1024]

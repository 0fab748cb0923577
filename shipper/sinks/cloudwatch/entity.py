"""The `entity` a PutLogEvents call may carry: what the events are about (a service in an EKS cluster),
which CloudWatch uses to link logs to the metrics and traces of the same thing.

Options: `key_attributes` (2-4 of Type, ResourceType, Identifier, Name, Environment) and `attributes`
(at most 10), each a template over the agent's own metadata (`kubernetes.*`, `host`, ...), so an
entity is made once per block, not per record. `preset: kubernetes` fills in what CloudWatch
documents for EKS; keys given beside it win. A block whose key attributes lack a field is sent
without an entity; an attribute that lacks one is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shipper.config.base import Options
from shipper.record import RESERVED, lookup
from shipper.templates import MissingField, Template

KEY_ATTRIBUTE_NAMES = ("Type", "ResourceType", "Identifier", "Name", "Environment")
MAX_ATTRIBUTES = 10
MAX_VALUE = 512

KUBERNETES_KEY_ATTRIBUTES = {
    "Type": "Service",
    "Name": "{kubernetes.workload_name}",
    "Environment": "eks:{kubernetes.cluster_name}/{kubernetes.namespace}",
}
KUBERNETES_ATTRIBUTES = {
    "PlatformType": "AWS::EKS",
    "EKS.Cluster": "{kubernetes.cluster_name}",
    "K8s.Namespace": "{kubernetes.namespace}",
    "K8s.Workload": "{kubernetes.workload_name}",
    "K8s.Node": "{kubernetes.node_name}",
    "K8s.Pod": "{kubernetes.pod_name}",
    "AWS.ServiceNameSource": "K8sWorkload",
}

Entity = dict[str, dict[str, str]]  # {"keyAttributes": {...}, "attributes": {...}}, as PutLogEvents takes it


class EntityOptions(Options):
    """The entity sent with each PutLogEvents call; events of one call share it, so a stream whose
    records belong to several entities is sent in separate calls."""

    preset: Literal["kubernetes"] | None = Field(
        None, description="`kubernetes`: Type `Service`, Name the workload, Environment `eks:<cluster>/<namespace>`, "
        "and the attributes PlatformType, EKS.Cluster, K8s.Namespace, K8s.Workload, K8s.Node, K8s.Pod (needs "
        "`cluster_name` and the API metadata of the kubernetes_logs source)."
    )
    key_attributes: dict[str, str] = Field(
        default_factory=dict, description="Names and templates of the attributes that identify the entity.")
    attributes: dict[str, str] = Field(default_factory=dict, description="Names and templates of other attributes.")

    @field_validator("key_attributes", "attributes")
    @classmethod
    def _templates(cls, values: dict[str, str]) -> dict[str, str]:
        for name, value in values.items():
            if not 1 <= len(name) <= 256 or not value:
                raise ValueError(f"{name!r}: names are 1-256 characters and values not empty")
            for path in Template(value).fields:
                if path[0] not in RESERVED:
                    raise ValueError(f"{name}: {{{'.'.join(path)}}} is not the agent's own metadata: an entity is "
                                     "made per block from fields such as kubernetes.namespace or host")
        return values

    @model_validator(mode="after")
    def _limits(self) -> EntityOptions:
        keys, attributes = self.merged()
        unknown = sorted(set(keys) - set(KEY_ATTRIBUTE_NAMES))
        if unknown:
            raise ValueError(f"key_attributes: {', '.join(unknown)} not one of {', '.join(KEY_ATTRIBUTE_NAMES)}")
        if not 2 <= len(keys) <= 4:
            raise ValueError(f"key_attributes: CloudWatch takes 2 to 4 of them, not {len(keys)}")
        if len(attributes) > MAX_ATTRIBUTES:
            raise ValueError(f"attributes: CloudWatch takes at most {MAX_ATTRIBUTES}, not {len(attributes)}")
        return self

    def merged(self) -> tuple[dict[str, str], dict[str, str]]:
        """(key attributes, attributes): the preset's, then the ones given beside it."""
        if self.preset == "kubernetes":
            return {**KUBERNETES_KEY_ATTRIBUTES, **self.key_attributes}, {**KUBERNETES_ATTRIBUTES, **self.attributes}
        return dict(self.key_attributes), dict(self.attributes)

    def templates(self) -> dict[str, Template]:
        keys, attributes = self.merged()
        return {f"entity.{scope}.{name}": Template(value)
                for scope, values in (("key_attributes", keys), ("attributes", attributes))
                for name, value in values.items()}


class EntityMaker:
    def __init__(self, options: EntityOptions):
        keys, attributes = options.merged()
        self.keys = [(name, Template(value)) for name, value in keys.items()]
        self.attributes = [(name, Template(value)) for name, value in attributes.items()]

    def make(self, common: Mapping[str, Any]) -> Entity | None:
        """The entity of a block's records, from its common fields; None when a key attribute lacks a field."""
        def field(path: tuple[str, ...]) -> Any:
            return lookup(common, _NO_RECORD, path)

        try:
            keys = {name: template.render(field)[:MAX_VALUE] for name, template in self.keys}
        except MissingField:
            return None
        attributes = {}
        for name, template in self.attributes:
            try:
                attributes[name] = template.render(field)[:MAX_VALUE]
            except MissingField:
                continue
        return {"keyAttributes": keys, "attributes": attributes}


_NO_RECORD = (0, "", None)

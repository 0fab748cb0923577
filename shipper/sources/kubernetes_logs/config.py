"""Options of the `kubernetes_logs` source."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shipper.config.base import AGENT_FIELDS, FieldTree, Options, readable_file_problem
from shipper.sources.files.config import TailOptions


class KubernetesApiOptions(Options):
    """Pod metadata from the API server (list + watch of this node's pods)."""

    kubeconfig: str | None = Field(None, description="A kubeconfig file; by default the pod's service account.")
    node_name: str | None = Field(
        None, description="This node; by default $NODE_NAME (the downward API's spec.nodeName)."
    )
    annotations: list[str] = Field(
        default_factory=list, description="Pod annotations to copy onto records: keys, or prefixes ending in `*`."
    )
    exclude_labels: list[str] = Field(default_factory=list, description="Pod label keys not copied onto records.")

    def environment_issues(self) -> list[tuple[str, str]]:
        problem = readable_file_problem(self.kubeconfig) if self.kubeconfig else None
        return [("kubeconfig", problem)] if problem else []


class KubernetesLogsOptions(TailOptions):
    """Container logs written by the kubelet: CRI or docker json-file lines, detected per file."""

    type: Literal["kubernetes_logs"]
    include: list[str] = Field(["/var/log/containers/*.log"], min_length=1,
                               description="Glob patterns of the container log files (symlinks are followed).")
    api: KubernetesApiOptions | None = Field(
        None, description="Add labels, annotations, node and image from the API server (off unless configured)."
    )
    cluster_name: str | None = Field(
        None, description="Added to every record as `kubernetes.cluster_name` (for example `${CLUSTER_NAME}`).",
    )
    include_namespaces: list[str] = Field(default_factory=list, description="Only these namespaces (empty: all).")
    exclude_namespaces: list[str] = Field(default_factory=list, description="Never these namespaces.")
    include_pod_labels: dict[str, str] = Field(
        default_factory=dict, description="Only pods with all these labels (needs `api`)."
    )
    exclude_pod_labels: dict[str, str] = Field(
        default_factory=dict, description="Never pods with any of these labels (needs `api`)."
    )
    honor_exclude_annotation: bool = Field(
        True, description="Skip pods annotated `shipper.io/exclude: \"true\"` (or `shipper.io/exclude-<container>`). "
        "The annotation is the pod's own say: set false so that no tenant can opt out of collection.",
    )

    def environment_issues(self) -> list[tuple[str, str]]:
        return [(f"api.{key}", reason) for key, reason in self.api.environment_issues()] if self.api else []

    def fields(self) -> FieldTree | None:
        kubernetes: FieldTree = {key: {} for key in ("namespace", "pod_name", "pod_uid", "container_name",
                                                      "container_id")}
        if self.cluster_name:
            kubernetes["cluster_name"] = {}
        if self.api is not None:
            kubernetes.update({"node_name": {}, "container_image": {}, "labels": None, "annotations": None,
                               "workload_kind": {}, "workload_name": {}})
        return {**AGENT_FIELDS, "file": {}, "stream": {}, "parse_error": {}, "kubernetes": kubernetes}

    @model_validator(mode="after")
    def _labels_need_the_api(self) -> KubernetesLogsOptions:
        if (self.include_pod_labels or self.exclude_pod_labels) and self.api is None:
            raise ValueError("include_pod_labels and exclude_pod_labels need `api` (labels come from the API server)")
        if self.api is not None:
            try:
                import kubernetes  # noqa: F401 - only whether it is there
            except ImportError:
                raise ValueError("`api` needs the kubernetes client: pip install 'shipper-agent[kubernetes]'") from None
        return self

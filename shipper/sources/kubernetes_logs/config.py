"""Options of the `kubernetes_logs` source."""

from __future__ import annotations

import os
from pathlib import Path
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
    namespace_labels: bool = Field(
        False, description="Copy the pod's namespace's labels onto records as `kubernetes.namespace_labels` (a watch "
        "of all namespaces: the service account needs get, list and watch on namespaces, "
        "manifests/components/namespace-labels).",
    )
    namespace_annotations: list[str] = Field(
        default_factory=list, description="Namespace annotations to copy as `kubernetes.namespace_annotations`: keys, "
        "or prefixes ending in `*` (also watches namespaces).",
    )

    def follows_namespaces(self) -> bool:
        return self.namespace_labels or bool(self.namespace_annotations)

    def environment_issues(self) -> list[tuple[str, str]]:
        """What `run` would trip over: a kubeconfig it cannot read, or none outside a pod that has a
        service account; no node name to list the pods of."""
        found = []
        problem = readable_file_problem(self.kubeconfig) if self.kubeconfig else _in_cluster_problem()
        if problem:
            found.append(("kubeconfig", problem))
        if not (self.node_name or os.environ.get("NODE_NAME")):
            found.append(("node_name", "no node name: set api.node_name, or NODE_NAME in the agent's environment "
                                       "(the downward API's spec.nodeName, as the DaemonSet does)"))
        return found

    def reachability_problem(self, timeout: float = 3.0) -> str | None:
        """Why the API server does not answer a list of this node's pods with the credentials the agent
        would use (None: it does). Asked by `check` only: the agent itself starts without it and adds
        metadata once the API answers."""
        from kubernetes import client, config

        try:
            if self.kubeconfig:
                api_client = config.new_client_from_config(config_file=self.kubeconfig)
            else:
                config.load_incluster_config()
                api_client = client.ApiClient()
            with api_client:
                client.CoreV1Api(api_client).list_pod_for_all_namespaces(
                    field_selector=f"spec.nodeName={self.node_name or os.environ.get('NODE_NAME', '')}", limit=1,
                    _request_timeout=timeout)
        except client.ApiException as error:
            return f"the API server refused a list of this node's pods: HTTP {error.status} {error.reason}" + (
                " (the service account needs get, list and watch on pods: manifests/base/rbac.yaml)"
                if error.status in (401, 403) else "")
        except Exception as error:  # the client's errors are many (urllib3's, config's): said in one line
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return f"the API server does not answer: {reason[:200]}"
        return None


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
    include_namespace_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Only pods of namespaces with all these labels (needs `api.namespace_labels`).",
    )
    exclude_namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Never pods of namespaces with any of these labels (needs "
        "`api.namespace_labels`)."
    )
    honor_exclude_annotation: bool = Field(
        True, description="Skip pods annotated `shipper.io/exclude: \"true\"` (or `shipper.io/exclude-<container>`). "
        "The annotation is the pod's own say: set false so that no tenant can opt out of collection.",
    )

    honor_annotations: list[Literal["parser", "multiline"]] = Field(
        default_factory=list, description="Pod annotations that choose how the pod's own records are read (needs "
        "`api`): `parser` takes `shipper.io/parser: <format>` (any `parse` format but regex), `multiline` takes "
        "`shipper.io/multiline: <languages | pattern>` (`java,python` groups those traces, anything else is a start "
        "pattern); `shipper.io/parser-<container>` and `shipper.io/multiline-<container>` choose for one container. "
        "A tenant changes its own records' shape this way, never another pod's nor the agent's metadata "
        "(docs/records.md).",
    )

    def environment_issues(self) -> list[tuple[str, str]]:
        return [(f"api.{key}", reason) for key, reason in self.api.environment_issues()] if self.api else []

    def environment_warnings(self) -> list[tuple[str, str]]:
        found = super().environment_warnings()
        if self.api is not None and not self.api.environment_issues():
            problem = self.api.reachability_problem()
            if problem:
                found.append(("api", f"{problem}; records get metadata from their paths only until it answers"))
        return found

    def fields(self) -> FieldTree | None:
        kubernetes: FieldTree = {key: {} for key in ("namespace", "pod_name", "pod_uid", "container_name",
                                                      "container_id")}
        if self.cluster_name:
            kubernetes["cluster_name"] = {}
        if self.api is not None:
            kubernetes.update({"node_name": {}, "container_image": {}, "labels": None, "annotations": None,
                               "workload_kind": {}, "workload_name": {}})
            if self.api.namespace_labels:
                kubernetes["namespace_labels"] = None
            if self.api.namespace_annotations:
                kubernetes["namespace_annotations"] = None
        return {**AGENT_FIELDS, "file": {}, "stream": {}, "parse_error": {}, "kubernetes": kubernetes}

    @model_validator(mode="after")
    def _labels_need_the_api(self) -> KubernetesLogsOptions:
        if self.honor_annotations and self.api is None:
            raise ValueError("honor_annotations needs `api` (annotations come from the API server)")
        if (self.include_pod_labels or self.exclude_pod_labels) and self.api is None:
            raise ValueError("include_pod_labels and exclude_pod_labels need `api` (labels come from the API server)")
        if (self.include_namespace_labels or self.exclude_namespace_labels) and not (
                self.api is not None and self.api.namespace_labels):
            raise ValueError("include_namespace_labels and exclude_namespace_labels need `api: {namespace_labels: "
                             "true}` (namespace labels come from the API server)")
        if self.api is not None:
            try:
                import kubernetes  # noqa: F401 - only whether it is there
            except ImportError:
                raise ValueError("`api` needs the kubernetes client: pip install 'shipper-agent[kubernetes]'") from None
        return self


SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def _in_cluster_problem() -> str | None:
    """What the kubernetes client's in-cluster configuration would miss (None: nothing)."""
    missing = [name for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT") if not os.environ.get(name)]
    if missing:
        return (f"no kubeconfig, and not in a pod ({' and '.join(missing)} unset): give api.kubeconfig, or run the "
                "agent in the cluster")
    if not os.access(SERVICE_ACCOUNT_TOKEN, os.R_OK):
        return (f"no kubeconfig, and no service account token at {SERVICE_ACCOUNT_TOKEN}: mount one "
                "(automountServiceAccountToken) or give api.kubeconfig")
    return None

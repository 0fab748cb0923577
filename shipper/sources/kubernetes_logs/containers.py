"""What the `kubernetes_logs` source adds to tailing: container formats, Kubernetes metadata and
container filters.

Metadata comes from the path first (namespace, pod, uid, container, container id), then, with
`api`, from the API server (labels, annotations, node, image) as soon as the pod is known. Filters
decided by the path (namespaces) keep a file from being opened at all; filters that need the API
(annotations, labels) stop reading a file as soon as its pod is known.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from collections.abc import Iterable
from typing import Any

from shipper.observe import metrics
from shipper.observe.logs import ComponentLog
from shipper.sources.files.container_formats import ContainerDecoder
from shipper.sources.files.formats import Decoder
from shipper.sources.files.identity import FileIdentity
from shipper.sources.files.kind import FileKind
from shipper.sources.files.reader import TailedFile
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions
from shipper.sources.kubernetes_logs.metadata import PodCache, PodInfo
from shipper.sources.kubernetes_logs.paths import metadata_from_path

EXCLUDE_ANNOTATION = "shipper.io/exclude"
FIRST_SYNC_WAIT = 2.0  # seconds


class ContainerFiles(FileKind):
    def __init__(self, options: KubernetesLogsOptions, labels: tuple[str, str, str],
                 log: ComponentLog):
        self.options = options
        self.labels = labels
        self.log = log
        self.pods: PodCache | None = None
        self._without_api = metrics.events_without_api_metadata.labels(*labels)
        self._excluded_said: set[tuple[str, str]] = set()
        self._versions: dict[FileIdentity, str] = {}  # the pod version each open file's fields were made from
        api = options.api
        if api is not None:
            node = api.node_name or os.environ.get("NODE_NAME", "")
            if not node:
                log.error("no node name (api.node_name or $NODE_NAME): pod metadata from the path only")
            else:
                self.pods = PodCache(node, api.kubeconfig, labels)

    async def start(self) -> None:
        if self.pods is not None:
            self.pods.start()
            # a short wait for the first list, so filters that need the API apply from the first file
            if not await asyncio.to_thread(self.pods.synced.wait, FIRST_SYNC_WAIT):
                self.log.warning("no pod list from the API server yet; reading with path metadata meanwhile")

    def stop(self) -> None:
        if self.pods is not None:
            self.pods.stop()

    def line_decoder(self, max_line: int) -> Decoder:
        return ContainerDecoder(max_line)

    # -- metadata --------------------------------------------------------------------------------

    def fields(self, path: str) -> dict[str, Any]:
        kubernetes: dict[str, Any] = metadata_from_path(path)
        if self.options.cluster_name:
            kubernetes["cluster_name"] = self.options.cluster_name
        pod = self._pod(kubernetes)
        if pod is not None:
            kubernetes.update(self._api_fields(pod, kubernetes.get("container_name", "")))
        return {"kubernetes": kubernetes}

    def learned(self, tailed: TailedFile) -> bool:
        """True when the file's pod became known, or changed (a label or annotation added to a running
        pod), since its fields were made: the records read from now on carry the pod as it is."""
        kubernetes = tailed.common["kubernetes"]
        pod = self._pod(kubernetes)
        if pod is None or self._versions.get(tailed.identity) == pod.version:
            return False
        self._versions[tailed.identity] = pod.version
        fresh = self._api_fields(pod, kubernetes.get("container_name", ""))
        return any(kubernetes.get(key) != value for key, value in fresh.items())

    def committed(self, tailed: TailedFile, count: int) -> None:
        if self.pods is not None and "node_name" not in tailed.common["kubernetes"]:
            self._without_api.inc(count)  # shipped with path metadata only (API down or pod unknown)

    def finished(self, tailed: TailedFile, still_open: Iterable[TailedFile]) -> None:
        self._versions.pop(tailed.identity, None)
        uid = tailed.common["kubernetes"].get("pod_uid")
        if self.pods is not None and uid and not any(
                t.common["kubernetes"].get("pod_uid") == uid for t in still_open):
            self.pods.release(uid)

    def _pod(self, kubernetes: dict[str, Any]) -> PodInfo | None:
        if self.pods is None or not {"namespace", "pod_name", "pod_uid"} <= kubernetes.keys():
            return None
        return self.pods.lookup(kubernetes["namespace"], kubernetes["pod_name"], kubernetes["pod_uid"])

    def _api_fields(self, pod: PodInfo, container: str) -> dict[str, Any]:
        api = self.options.api
        assert api is not None
        labels = {k: v for k, v in pod.labels.items() if k not in api.exclude_labels}
        annotations = {k: v for k, v in pod.annotations.items()
                       if any(fnmatch.fnmatchcase(k, pattern) for pattern in api.annotations)}
        fields: dict[str, Any] = {"node_name": pod.node_name, "labels": labels, "annotations": annotations,
                                  "workload_kind": pod.workload_kind, "workload_name": pod.workload_name}
        if container in pod.images:
            fields["container_image"] = pod.images[container]
        return fields

    # -- filters ---------------------------------------------------------------------------------

    def wanted(self, path: str) -> bool:
        options = self.options
        kubernetes = metadata_from_path(path)
        namespace = kubernetes.get("namespace")
        if namespace is not None:
            if options.include_namespaces and namespace not in options.include_namespaces:
                return self._excluded(path, "namespace")
            if namespace in options.exclude_namespaces:
                return self._excluded(path, "namespace")
        pod = self._pod(kubernetes)
        if pod is None:
            return True  # not known (yet): read it; never hold records back waiting for the API
        container = kubernetes.get("container_name", "")
        if options.honor_exclude_annotation and (
                pod.annotations.get(EXCLUDE_ANNOTATION) == "true"
                or pod.annotations.get(f"{EXCLUDE_ANNOTATION}-{container}") == "true"):
            return self._excluded(path, "annotation")
        if any(pod.labels.get(k) != v for k, v in options.include_pod_labels.items()):
            return self._excluded(path, "labels")
        if any(pod.labels.get(k) == v for k, v in options.exclude_pod_labels.items()):
            return self._excluded(path, "labels")
        return True

    def _excluded(self, path: str, rule: str) -> bool:
        if (path, rule) not in self._excluded_said:
            self._excluded_said.add((path, rule))
            metrics.files_excluded.labels(*self.labels, rule).inc()
            self.log.info("not reading %s: excluded by %s", path, rule)
        return False

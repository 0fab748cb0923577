"""What the `kubernetes_logs` source adds to tailing: container formats, Kubernetes metadata and
container filters.

Metadata comes from the path first (namespace, pod, uid, container, container id), then, with
`api`, from the API server (labels, annotations, node, image) as soon as the pod is known, and the
namespace's labels and annotations when asked for. Filters decided by the path (namespaces) keep a
file from being opened at all; filters that need the API (annotations, labels, namespace labels) stop
reading a file as soon as its pod (or namespace) is known.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from collections.abc import Iterable
from typing import Any

from shipper.observe import metrics
from shipper.observe.logs import ComponentLog
from shipper.record import Record
from shipper.sources.files.config import MultilineOptions
from shipper.sources.files.container_formats import ContainerDecoder
from shipper.sources.files.formats import Decoder
from shipper.sources.files.identity import FileIdentity
from shipper.sources.files.kind import FileKind
from shipper.sources.files.reader import TailedFile
from shipper.sources.kubernetes_logs import annotated
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions
from shipper.sources.kubernetes_logs.metadata import NamespaceCache, NamespaceInfo, PodCache, PodInfo
from shipper.sources.kubernetes_logs.paths import metadata_from_path

EXCLUDE_ANNOTATION = "shipper.io/exclude"
FIRST_SYNC_WAIT = 2.0  # seconds
REFUSED_SAID_MOST = 4096  # (pod, annotation value) pairs remembered as logged


class ContainerFiles(FileKind):
    def __init__(self, options: KubernetesLogsOptions, labels: tuple[str, str, str],
                 log: ComponentLog):
        self.options = options
        self.labels = labels
        self.log = log
        self.pods: PodCache | None = None
        self.namespaces: NamespaceCache | None = None
        self._without_api = metrics.events_without_api_metadata.labels(*labels)
        self._excluded_said: set[tuple[str, str]] = set()
        self._versions: dict[FileIdentity, str] = {}  # the pod version each open file's fields were made from
        self.honored = frozenset(options.honor_annotations)
        self.groups = "multiline" in self.honored
        self._choices: dict[str, tuple[str, annotated.Chosen]] = {}  # path -> (pod version, its choice)
        self._refused_said: set[tuple[str, str]] = set()  # (pod uid, reason) logged already
        self._unparsed = metrics.events_unparsed.labels(*labels, "format")
        api = options.api
        if api is not None:
            node = api.node_name or os.environ.get("NODE_NAME", "")
            if not node:
                log.error("no node name (api.node_name or $NODE_NAME): pod metadata from the path only")
            else:
                self.pods = PodCache(node, api.kubeconfig, labels)
            if api.follows_namespaces():
                self.namespaces = NamespaceCache(api.kubeconfig, labels)

    async def start(self) -> None:
        for followed in (self.pods, self.namespaces):
            if followed is not None:
                followed.start()
        for followed in (self.pods, self.namespaces):
            # a short wait for the first list, so filters that need the API apply from the first file
            if followed is not None and not await asyncio.to_thread(followed.synced.wait, FIRST_SYNC_WAIT):
                self.log.warning("no %s list from the API server yet; reading with path metadata meanwhile",
                                 followed.kind)

    def stop(self) -> None:
        for followed in (self.pods, self.namespaces):
            if followed is not None:
                followed.stop()

    def line_decoder(self, max_line: int) -> Decoder:
        return ContainerDecoder(max_line)

    # -- what a pod's annotations choose (annotated.py) -------------------------------------------

    def multiline(self, path: str, default: MultilineOptions | None) -> MultilineOptions | None:
        if "multiline" not in self.honored:
            return default
        return self._chosen(path).multiline or default

    def records(self, tailed: TailedFile, records: list[Record]) -> list[Record]:
        if "parser" not in self.honored or not records:
            return records
        parser = self._chosen(tailed.label).parser
        if parser is None:
            return records
        records, unparsed = annotated.parsed(parser, records)
        if unparsed:
            self._unparsed.inc(unparsed)
        return records

    def _chosen(self, path: str) -> annotated.Chosen:
        """What the pod of the file at `path` chose, made again when the pod changed (a bounded table:
        one entry per open file's path, dropped when the file is finished)."""
        kubernetes = metadata_from_path(path)
        pod = self._pod(kubernetes)
        if pod is None:
            return annotated.NOTHING
        known = self._choices.get(path)
        if known is not None and known[0] == pod.version:
            return known[1]
        refused: list[tuple[str, str]] = []
        choice = annotated.chosen(pod.annotations, kubernetes.get("container_name", ""), self.honored,
                                    self.options.multiline, refused)
        self._choices[path] = (pod.version, choice)
        for kind, value in (("parser", choice.format), ("multiline", choice.multiline)):
            if value is not None:
                metrics.annotations_applied.labels(*self.labels, kind, "applied").inc()
        for kind, reason in refused:
            metrics.annotations_applied.labels(*self.labels, kind, "ignored").inc()
            if (pod.uid, reason) not in self._refused_said:
                if len(self._refused_said) >= REFUSED_SAID_MOST:
                    self._refused_said.clear()  # bounded: a pod may be told twice, never memory without end
                self._refused_said.add((pod.uid, reason))
                self.log.warning("pod %s/%s: %s; ignored", pod.namespace, pod.name, reason)
        return choice

    # -- metadata --------------------------------------------------------------------------------

    def fields(self, path: str) -> dict[str, Any]:
        kubernetes: dict[str, Any] = metadata_from_path(path)
        if self.options.cluster_name:
            kubernetes["cluster_name"] = self.options.cluster_name
        pod = self._pod(kubernetes)
        if pod is not None:
            kubernetes.update(self._api_fields(pod, kubernetes.get("container_name", "")))
        namespace = self._namespace(kubernetes)
        if namespace is not None:
            kubernetes.update(self._namespace_fields(namespace))
        return {"kubernetes": kubernetes}

    def learned(self, tailed: TailedFile) -> bool:
        """True when the file's pod became known, or changed (a label or annotation added to a running
        pod), since its fields were made: the records read from now on carry the pod as it is."""
        kubernetes = tailed.common["kubernetes"]
        pod, namespace = self._pod(kubernetes), self._namespace(kubernetes)
        version = f"{pod.version if pod else ''}/{namespace.version if namespace else ''}"
        if (pod is None and namespace is None) or self._versions.get(tailed.identity) == version:
            return False
        self._versions[tailed.identity] = version
        fresh = self._api_fields(pod, kubernetes.get("container_name", "")) if pod else {}
        if namespace is not None:
            fresh.update(self._namespace_fields(namespace))
        return any(kubernetes.get(key) != value for key, value in fresh.items())

    def committed(self, tailed: TailedFile, count: int) -> None:
        if self.pods is not None and "node_name" not in tailed.common["kubernetes"]:
            self._without_api.inc(count)  # shipped with path metadata only (API down or pod unknown)

    def finished(self, tailed: TailedFile, still_open: Iterable[TailedFile]) -> None:
        self._versions.pop(tailed.identity, None)
        if not any(t.label == tailed.label for t in still_open):
            self._choices.pop(tailed.label, None)
        uid = tailed.common["kubernetes"].get("pod_uid")
        if self.pods is not None and uid and not any(
                t.common["kubernetes"].get("pod_uid") == uid for t in still_open):
            self.pods.release(uid)

    def _pod(self, kubernetes: dict[str, Any]) -> PodInfo | None:
        if self.pods is None or not {"namespace", "pod_name", "pod_uid"} <= kubernetes.keys():
            return None
        return self.pods.lookup(kubernetes["namespace"], kubernetes["pod_name"], kubernetes["pod_uid"])

    def _namespace(self, kubernetes: dict[str, Any]) -> NamespaceInfo | None:
        if self.namespaces is None or "namespace" not in kubernetes:
            return None
        return self.namespaces.lookup(kubernetes["namespace"])

    def _namespace_fields(self, namespace: NamespaceInfo) -> dict[str, Any]:
        api = self.options.api
        assert api is not None
        fields: dict[str, Any] = {}
        if api.namespace_labels:
            fields["namespace_labels"] = dict(namespace.labels)
        if api.namespace_annotations:
            fields["namespace_annotations"] = {
                k: v for k, v in namespace.annotations.items()
                if any(fnmatch.fnmatchcase(k, pattern) for pattern in api.namespace_annotations)}
        return fields

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
        known = self._namespace(kubernetes)
        if known is not None:
            if any(known.labels.get(k) != v for k, v in options.include_namespace_labels.items()):
                return self._excluded(path, "namespace_labels")
            if any(known.labels.get(k) == v for k, v in options.exclude_namespace_labels.items()):
                return self._excluded(path, "namespace_labels")
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

"""Pod metadata from the Kubernetes API server, for the pods of this node only, and, when asked for,
the labels and annotations of every namespace.

A thread lists the pods (`spec.nodeName=<node>`), then watches from the list's resourceVersion;
`410 Gone` means the version is too old: list again. Any other failure (API down, connection
reset, a watch cut mid-stream) is retried with exponential backoff and full jitter. A pod the
cache has not seen yet is fetched once by name (a 404 is remembered for a short while). A deleted
pod stays until the source says its files are drained, so short-lived pods keep their metadata.
Namespaces are followed the same way by a thread of their own (all of them: a cluster has few).
Nothing here ever blocks the pipeline: a lookup returns what is known now.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shipper.backoff import delay
from shipper.observe import metrics

log = logging.getLogger(__name__)

NOT_FOUND_TTL = 30.0  # seconds a pod the API server said does not exist is not asked for again
DELETED_TTL = 3600.0  # longest a deleted pod's metadata waits for its files to be released
WATCH_TIMEOUT = 300  # seconds per watch request; the server closes it and we resume from the version
EMPTY_WATCH = 1.0  # seconds: a watch that ends sooner than this with no event was not a real one
BACKOFF = (0.5, 30.0)  # seconds: the first and the longest wait before asking the API server again


@dataclass
class PodInfo:
    namespace: str
    name: str
    uid: str
    node_name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    images: dict[str, str] = field(default_factory=dict)  # container name -> image
    deleted_at: float | None = None
    workload_kind: str = "Pod"  # the controller that owns it, as Container Insights groups pods
    workload_name: str = ""
    version: str = ""  # its resourceVersion: changes with every modification (labels, annotations, status)


@dataclass
class NamespaceInfo:
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    version: str = ""


class _Followed:
    """One kind of object, listed then watched by a thread of its own (see the module's docstring)."""

    kind = ""  # what is followed, for logs and the thread's name

    def __init__(self, kubeconfig: str | None, labels: tuple[str, str, str]):
        """`labels`: the source's component_kind, component_id and component_type, for its metrics."""
        self.kubeconfig = kubeconfig
        self.synced = threading.Event()  # set after the first successful list
        self._stopping = threading.Event()
        self._failures = metrics.errors.labels(*labels, "kubernetes_api", "unreachable")

    def start(self) -> None:
        from kubernetes import client, config

        if self.kubeconfig:
            api_client = config.new_client_from_config(config_file=self.kubeconfig)
        else:
            config.load_incluster_config()
            api_client = client.ApiClient()
        self._api = client.CoreV1Api(api_client)
        threading.Thread(target=self._follow, name=f"kubernetes-{self.kind}", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        api = getattr(self, "_api", None)
        if api is not None:  # closing the pool ends a watch blocked on the server, so the thread exits
            api.api_client.close()

    def _lister(self) -> tuple[Any, dict[str, Any]]:
        """The client's own list method of this kind and its arguments: a watch calls the method itself
        (the client reads the type of the objects it returns from the method's docstring)."""
        raise NotImplementedError

    def _listed(self, items: list[Any]) -> None:
        """A fresh list: what it holds now."""
        raise NotImplementedError

    def _apply(self, kind: str, item: Any) -> None:
        raise NotImplementedError

    def _list(self) -> str:
        method, arguments = self._lister()
        listed = method(**arguments, _request_timeout=30)
        self._listed(listed.items)
        self.synced.set()
        version: str = listed.metadata.resource_version  # the client's objects are untyped
        return version

    def _follow(self) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        failures = 0
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._list()
                    failures = 0
                stream = watch.Watch()
                started, events = time.monotonic(), 0
                method, arguments = self._lister()
                for event in stream.stream(method, **arguments, resource_version=version,
                                           timeout_seconds=WATCH_TIMEOUT, _request_timeout=WATCH_TIMEOUT + 30):
                    self._apply(event["type"], event["object"])
                    version = stream.resource_version
                    events += 1
                    if self._stopping.is_set():
                        stream.stop()
                if events == 0 and time.monotonic() - started < EMPTY_WATCH and not self._stopping.is_set():
                    # ended at once with nothing (a proxy or server misbehaving): asking again at once
                    # would hammer it, so this counts as a failure and waits like one
                    failures = self._failed(RuntimeError(f"the {self.kind} watch ended at once, empty"),
                                            failures + 1)
                else:
                    failures = 0
            except ApiException as error:
                if error.status == 410:
                    log.info("%s watch: resourceVersion %s expired (410 Gone); listing again", self.kind, version)
                    version = None
                    continue
                failures = self._failed(error, failures + 1)
            except Exception as error:  # connection refused or reset, a watch cut mid-stream
                failures = self._failed(error, failures + 1)

    def _failed(self, error: Exception, failures: int) -> int:
        self._failures.inc()
        wait = delay(failures, *BACKOFF)
        if failures == 1:
            log.warning("kubernetes API unreachable for %s (%s); records keep what is known; retrying", self.kind,
                        str(error).splitlines()[0][:200])
        self._stopping.wait(wait)
        return failures


class NamespaceCache(_Followed):
    """Every namespace's labels and annotations."""

    kind = "namespaces"

    def __init__(self, kubeconfig: str | None, labels: tuple[str, str, str]):
        super().__init__(kubeconfig, labels)
        self.namespaces: dict[str, NamespaceInfo] = {}

    def lookup(self, name: str) -> NamespaceInfo | None:
        return self.namespaces.get(name)

    def _lister(self) -> tuple[Any, dict[str, Any]]:
        return self._api.list_namespace, {}

    def _listed(self, items: list[Any]) -> None:
        fresh = {item.metadata.name: _namespace_info(item) for item in items}
        self.namespaces = fresh
        if not self.synced.is_set():
            log.info("kubernetes API: %d namespaces", len(fresh))

    def _apply(self, kind: str, item: Any) -> None:
        info = _namespace_info(item)
        if kind == "DELETED":
            self.namespaces.pop(info.name, None)
        else:
            self.namespaces[info.name] = info


def _namespace_info(item: Any) -> NamespaceInfo:
    meta = item.metadata
    return NamespaceInfo(meta.name, dict(meta.labels or {}), dict(meta.annotations or {}), meta.resource_version or "")


class PodCache(_Followed):
    kind = "pods"

    def __init__(self, node_name: str, kubeconfig: str | None, labels: tuple[str, str, str]):
        super().__init__(kubeconfig, labels)
        self.node_name = node_name
        self.pods: dict[str, PodInfo] = {}  # uid -> pod
        self._not_found: dict[tuple[str, str], float] = {}
        self._fetching: set[tuple[str, str]] = set()

    # -- lookups (event loop side) ---------------------------------------------------------------

    def lookup(self, namespace: str, name: str, uid: str) -> PodInfo | None:
        """What is known of the pod now; an unknown pod is fetched by name in the background."""
        info = self.pods.get(uid)
        if info is not None:
            return info
        key = (namespace, name)
        if key in self._fetching or self._not_found.get(key, 0.0) > time.monotonic():
            return None
        self._fetching.add(key)
        threading.Thread(target=self._fetch, args=(namespace, name), daemon=True).start()
        return None

    def release(self, uid: str) -> None:
        """The source finished the pod's files: a deleted pod's metadata can go."""
        info = self.pods.get(uid)
        if info is not None and info.deleted_at is not None:
            del self.pods[uid]

    # -- the API (thread side) -------------------------------------------------------------------

    def _lister(self) -> tuple[Any, dict[str, Any]]:
        return self._api.list_pod_for_all_namespaces, {"field_selector": f"spec.nodeName={self.node_name}"}

    def _listed(self, items: list[Any]) -> None:
        listed = {p.metadata.uid for p in items}
        now = time.time()
        for uid, info in list(self.pods.items()):  # deleted while we were not watching
            if uid not in listed and info.deleted_at is None:
                info.deleted_at = now
        for item in items:
            self._apply("ADDED", item)
        if not self.synced.is_set():
            log.info("kubernetes API: %d pods on node %s", len(items), self.node_name)

    def _apply(self, kind: str, pod: Any) -> None:
        info = _info(pod)
        if kind == "DELETED":
            known = self.pods.get(info.uid)
            (known or info).deleted_at = time.time()
            self.pods.setdefault(info.uid, info)
        else:
            self.pods[info.uid] = info
        self._expire_deleted()

    def _fetch(self, namespace: str, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            pod = self._api.read_namespaced_pod(name, namespace, _request_timeout=10)
            self.pods[pod.metadata.uid] = _info(pod)
        except ApiException as error:
            if error.status == 404:
                self._not_found[(namespace, name)] = time.monotonic() + NOT_FOUND_TTL
        except Exception as error:
            log.debug("kubernetes API: get pod %s/%s failed: %s", namespace, name, error)
            self._not_found[(namespace, name)] = time.monotonic() + NOT_FOUND_TTL
        finally:
            self._fetching.discard((namespace, name))

    def _expire_deleted(self) -> None:
        cutoff = time.time() - DELETED_TTL
        for uid in [u for u, i in self.pods.items() if i.deleted_at is not None and i.deleted_at < cutoff]:
            del self.pods[uid]


def _info(pod: Any) -> PodInfo:
    meta = pod.metadata
    statuses = (pod.status.container_statuses if pod.status else None) or []
    images = {c.name: c.image for c in (pod.spec.containers or [])}
    images.update({s.name: s.image for s in statuses if s.image})
    labels = dict(meta.labels or {})
    kind, name = workload(meta.name, labels, [(o.kind, o.name) for o in (meta.owner_references or [])
                                              if o.controller])
    return PodInfo(meta.namespace, meta.name, meta.uid, pod.spec.node_name or "", labels,
                   dict(meta.annotations or {}), images, workload_kind=kind, workload_name=name,
                   version=meta.resource_version or "")


CRONJOB_JOB = re.compile(r"^(?P<cronjob>.+)-\d{8,}$")  # a CronJob names its Jobs <cronjob>-<minutes since epoch>


def workload(pod_name: str, labels: dict[str, str], controllers: list[tuple[str, str]]) -> tuple[str, str]:
    """(kind, name) of the workload a pod belongs to, from its controller alone, without asking the API
    server about the owner: a ReplicaSet `<deployment>-<pod-template-hash>` is its Deployment, a Job
    `<cronjob>-<minutes>` its CronJob; a pod without a controller is its own workload."""
    if not controllers:
        return "Pod", pod_name
    kind, name = controllers[0]
    template_hash = labels.get("pod-template-hash", "")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return "Deployment", name.removesuffix(f"-{template_hash}")
    if kind == "Job" and (match := CRONJOB_JOB.match(name)):
        return "CronJob", match["cronjob"]
    return kind, name

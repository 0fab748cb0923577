"""A stand-in for the Kubernetes API server's pod and namespace endpoints, for the real `kubernetes` client.

No API server can run here, so this one speaks the parts the agent uses, the way the real one
does: list (`GET /api/v1/pods`, field selector `spec.nodeName=...`, a resourceVersion), watch
(`?watch=true`: JSON events streamed one per line, an `ERROR` event with a 410 Status when the
resourceVersion is older than what it keeps), get by name (404 Status when missing); namespaces are
listed and watched the same way (`GET /api/v1/namespaces`). Tests add and delete pods and namespaces,
break the open watches, forget old versions (so resuming gets 410), and go down.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from peers.server import ThreadedServer


def pod(namespace: str, name: str, uid: str, node: str = "node-1", labels: dict | None = None,
        annotations: dict | None = None, containers: tuple[str, ...] = ("app",),
        owner: tuple[str, str] | None = None) -> dict[str, Any]:
    """A pod as the API server returns it; `owner`: (kind, name) of its controller."""
    owners = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": f"owner-{uid}",
               "controller": True, "blockOwnerDeletion": True}] if owner else []
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": labels or {},
                     "annotations": annotations or {}, "ownerReferences": owners},
        "spec": {"nodeName": node,
                 "containers": [{"name": c, "image": f"registry.example/{c}:1.0"} for c in containers]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": c, "image": f"registry.example/{c}:1.0", "imageID": "", "ready": True, "restartCount": 0,
             "containerID": f"containerd://{c:a<64}"[:77]} for c in containers]},
    }


def namespace(name: str, labels: dict | None = None, annotations: dict | None = None) -> dict[str, Any]:
    """A namespace as the API server returns it."""
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "uid": f"ns-{name}", "labels": labels or {}, "annotations": annotations or {}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


class FakeKubeApi(ThreadedServer):
    def __init__(self) -> None:
        super().__init__()
        self.end_watches_at_once = False
        self.pods: dict[tuple[str, str], dict] = {}
        self.namespaces: dict[tuple[str, str], dict] = {}  # ("", name) -> namespace
        self.version = 100
        self.events: list[tuple[int, str, dict]] = []  # (resourceVersion, type, object) kept for watches
        self.oldest_kept = 0  # a watch from before this version gets 410 Gone
        self.down = False
        self.requests: list[str] = []
        self._watchers: set[asyncio.Queue] = set()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/pods", self._pods)
        app.router.add_get("/api/v1/namespaces", self._namespaces)
        app.router.add_get("/api/v1/namespaces/{namespace}/pods/{name}", self._get)

    # -- what tests do ---------------------------------------------------------------------------

    def add(self, body: dict) -> None:
        self._loop.call_soon_threadsafe(self._change, "ADDED", body)

    def modify(self, body: dict) -> None:
        self._loop.call_soon_threadsafe(self._change, "MODIFIED", body)

    def delete(self, namespace: str, name: str) -> None:
        self._loop.call_soon_threadsafe(self._change, "DELETED", self.pods[(namespace, name)])

    def set_namespace(self, body: dict) -> None:
        """Add a namespace, or change one (its labels): ADDED or MODIFIED for its watchers."""
        kind = "MODIFIED" if ("", body["metadata"]["name"]) in self.namespaces else "ADDED"
        self._loop.call_soon_threadsafe(self._change, kind, body)

    def break_watches(self) -> None:
        """Close every open watch mid-stream, as a restarted API server or a proxy would."""
        self._loop.call_soon_threadsafe(lambda: [q.put_nowait(None) for q in list(self._watchers)])

    def expire_history(self) -> None:
        """Forget old resource versions: a watch resuming from any version seen so far gets 410."""
        def expire() -> None:
            self.oldest_kept = self.version + 1
            self.events.clear()
        self._loop.call_soon_threadsafe(expire)

    def stop(self) -> None:
        self.break_watches()  # let open watches end before the loop stops under them
        deadline = time.monotonic() + 2
        while self._watchers and time.monotonic() < deadline:
            time.sleep(0.01)
        super().stop()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {"token": "test-token"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        }))
        return path

    # -- the API ---------------------------------------------------------------------------------

    def _change(self, kind: str, body: dict) -> None:
        self.version += 1
        body = json.loads(json.dumps(body))
        body["metadata"]["resourceVersion"] = str(self.version)
        store = self.namespaces if body["kind"] == "Namespace" else self.pods
        key = (body["metadata"].get("namespace", ""), body["metadata"]["name"])
        if kind == "DELETED":
            store.pop(key, None)
        else:
            store[key] = body
        self.events.append((self.version, kind, body))
        for queue in list(self._watchers):
            queue.put_nowait((kind, body))

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        watching = request.query.get("watch", "").lower() in ("true", "1")  # the API server's ParseBool
        self.requests.append(f"{'watch' if watching else 'list'} {request.query_string}")
        if self.down:
            return _status(503, "ServiceUnavailable", "the API server is down")
        node = request.query.get("fieldSelector", "").removeprefix("spec.nodeName=")
        if not watching:
            items = [p for p in self.pods.values() if not node or p["spec"]["nodeName"] == node]
            return web.json_response({"apiVersion": "v1", "kind": "PodList", "items": items,
                                      "metadata": {"resourceVersion": str(self.version)}})
        return await self._watch(request, node, int(request.query.get("resourceVersion") or self.version))

    async def _namespaces(self, request: web.Request) -> web.StreamResponse:
        watching = request.query.get("watch", "").lower() in ("true", "1")
        self.requests.append(f"{'watch' if watching else 'list'} namespaces {request.query_string}")
        if self.down:
            return _status(503, "ServiceUnavailable", "the API server is down")
        if not watching:
            return web.json_response({"apiVersion": "v1", "kind": "NamespaceList",
                                      "items": list(self.namespaces.values()),
                                      "metadata": {"resourceVersion": str(self.version)}})
        return await self._watch(request, "", int(request.query.get("resourceVersion") or self.version),
                                 "Namespace")

    async def _watch(self, request: web.Request, node: str, since: int, kind_of: str = "Pod") -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        if since < self.oldest_kept:
            gone = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": f"too old resource version: {since} ({self.oldest_kept})", "reason": "Expired",
                    "code": 410}
            await response.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
            return response
        if self.end_watches_at_once:  # a misbehaving proxy: 200 and an empty stream, at once
            return response
        queue: asyncio.Queue = asyncio.Queue()
        for version, kind, body in self.events:
            if version > since and body["kind"] == kind_of:
                queue.put_nowait((kind, body))
        self._watchers.add(queue)
        timeout = float(request.query.get("timeoutSeconds") or 300)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    break
                if item is None:  # broken by the test
                    if request.transport is not None:
                        request.transport.close()
                    break
                kind, body = item
                if body["kind"] == kind_of and (not node or body["spec"]["nodeName"] == node):
                    await response.write(json.dumps({"type": kind, "object": body}).encode() + b"\n")
        finally:
            self._watchers.discard(queue)
        return response

    async def _get(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        self.requests.append(f"get {namespace}/{name}")
        if self.down:
            return _status(503, "ServiceUnavailable", "the API server is down")
        body = self.pods.get((namespace, name))
        if body is None:
            return _status(404, "NotFound", f'pods "{name}" not found')
        return web.json_response(body)


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": message, "reason": reason, "code": code}, status=code)

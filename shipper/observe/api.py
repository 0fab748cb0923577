"""The HTTP API: `/metrics` (Prometheus), `/healthz` (the process and its event loop answer) and
`/readyz` (every sink can deliver and the spool has room), for probes and scrapers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from shipper.buffer.spool import Spool
from shipper.sinks.base import Sink

log = logging.getLogger(__name__)


class Api:
    def __init__(self, address: str, spool: Spool, sinks: Callable[[], Sequence[Sink]]):
        self.host, _, port = address.rpartition(":")
        self.port = int(port)
        self.spool = spool
        self.sinks = sinks
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host.strip("[]") or None, self.port).start()
        log.info("API listening on %s:%d (/metrics, /healthz, /readyz)", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})  # answering at all proves the event loop runs

    async def readyz(self, request: web.Request) -> web.Response:
        """503 while a sink cannot deliver or the spool is full. Parked streams are reported, but a
        sink whose other streams deliver stays ready: the node is degraded, not stopped."""
        sinks = self.sinks()
        problems = {sink.id: sink.last_error or "not ready" for sink in sinks if not sink.ready}
        if self.spool.is_full:
            problems["spool"] = f"full ({self.spool.size} of {self.spool.max_size} bytes); sources are paused"
        parked = {sink.id: streams for sink in sinks if (streams := sink.parked_streams())}
        status = 200 if not problems else 503
        body = {"ready": not problems, "problems": problems, **({"parked": parked} if parked else {})}
        return web.json_response(body, status=status)

"""An aiohttp application served from its own event loop in a thread, for synchronous tests."""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Self

from aiohttp import web


class ThreadedServer:
    """Subclasses add routes in `routes()`; `start()` returns once `url` answers."""

    def __init__(self) -> None:
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    auto_decompress = True  # request bodies with a Content-Encoding reach the handlers decoded

    async def on_start(self) -> None:
        """Set up what the handlers need, on the server's loop."""

    async def on_stop(self) -> None:
        """Release what `on_start` set up, on the server's loop."""

    def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> Self:
        """Serve on `port` (0: any free one), over TLS with the `tls` server context if given."""
        self._port = port
        self._tls = tls
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self) -> None:
        if self._started.is_set():
            asyncio.run_coroutine_threadsafe(self.on_stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._setup())
        self._started.set()
        self._loop.run_forever()

    async def _setup(self) -> None:
        await self.on_start()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.routes(app)
        runner = web.AppRunner(app, access_log=None, auto_decompress=self.auto_decompress)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port, ssl_context=self._tls)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"

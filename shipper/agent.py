"""Wires the configuration into components, runs them, and stops them in order on a signal.

Shutdown (SIGTERM, SIGINT): sources stop reading and commit; sinks drain until the spool has
nothing left for them or `shutdown_timeout` passes; the agent exits 0 and whatever was not
delivered stays in the spool for the next start. A second SIGINT/SIGTERM exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable

from shipper.buffer.spool import Spool
from shipper.config.model import AgentConfig
from shipper.observe import metrics
from shipper.sinks.base import Sink
from shipper.sources.base import Source
from shipper.sources.files.source import FileSource
from shipper.sources.journald.source import JournaldSource
from shipper.sources.kubernetes_logs.source import KubernetesLogsSource

log = logging.getLogger(__name__)

SOURCE_TYPES: dict[str, type[Source]] = {
    "file": FileSource, "kubernetes_logs": KubernetesLogsSource, "journald": JournaldSource,
}
SINK_TYPES = {  # imported when configured: the AWS SDK alone adds most of a second to start-up
    "console": "shipper.sinks.console:ConsoleSink",
    "cloudwatch_logs": "shipper.sinks.cloudwatch.sink:CloudWatchLogsSink",
    "syslog": "shipper.sinks.syslog.sink:SyslogSink",
}
EXIT_FORCED = 130
GC_THRESHOLD = 20_000  # allocations between young collections (Python's default is 700)
RESTART_DELAY = (0.5, 30.0)  # a component that crashed is restarted after this backoff range


def sink_class(sink_type: str) -> type[Sink]:
    module, name = SINK_TYPES[sink_type].split(":")
    return getattr(importlib.import_module(module), name)


def _settle_heap() -> None:
    """Start-up leaves a large heap of long-lived objects (botocore's service models, pydantic
    schemas): keep the collector from walking it again and again while records stream through."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)



class Agent:
    def __init__(self, config: AgentConfig):
        self.config = config
        self.hostname = socket.gethostname()
        self._stop_requested = asyncio.Event()
        self._forced = asyncio.Event()

    async def run(self) -> int:
        self._install_signal_handlers()
        spool = Spool.open(self.config.data_dir, self.config.buffer.max_size)
        try:
            sinks = [sink_class(o.type)(sink_id, o, spool) for sink_id, o in self.config.sinks.items()]
            for sink in sinks:
                await sink.open()
            _settle_heap()
            spool.attach_sinks({sink.id: self.config.sinks[sink.id].inputs for sink in sinks})
            sources = [
                SOURCE_TYPES[o.type](source_id, o, spool, self.hostname)
                for source_id, o in self.config.sources.items()
            ]
            api = None
            if self.config.api is not None:
                from shipper.observe.api import Api  # aiohttp's server, imported only when configured

                api = Api(self.config.api.address, spool, sinks)
                await api.start()
            try:
                return await self._run(sources, sinks)
            finally:
                if api is not None:
                    await api.stop()
        finally:
            spool.close()

    async def _run(self, sources: list[Source], sinks: list[Sink]) -> int:
        sink_tasks = [self._supervise(f"sink {s.id}", s.run) for s in sinks]
        source_tasks = [self._supervise(f"source {s.id}", s.run) for s in sources]
        log.info("running %d source(s) and %d sink(s)", len(sources), len(sinks))
        await self._stop_requested.wait()
        deadline = time.monotonic() + self.config.shutdown_timeout
        log.info("stopping: sources first, then draining sinks for up to %.1fs", self.config.shutdown_timeout)

        for source in sources:
            source.stop()
        await self._wait_until(asyncio.gather(*source_tasks, return_exceptions=True), deadline)
        for sink in sinks:
            sink.drain()
        await self._wait_until(asyncio.gather(*(s.idle.wait() for s in sinks)), deadline)

        for task in (*source_tasks, *sink_tasks):
            task.cancel()
        await asyncio.gather(*source_tasks, *sink_tasks, return_exceptions=True)
        for sink in sinks:
            await sink.close()
        left = {sink.id: sink.spool.backlog(sink.id) for sink in sinks}
        if any(left.values()):
            log.warning("stopped with undelivered records kept in the spool: %s", left)
        return EXIT_FORCED if self._forced.is_set() else 0

    async def _wait_until(self, work: Awaitable, deadline: float) -> None:
        """Wait for `work` until the deadline or a forced stop, whichever comes first."""
        forced = asyncio.ensure_future(self._forced.wait())
        work = asyncio.ensure_future(work)
        await asyncio.wait({work, forced}, timeout=max(0.0, deadline - time.monotonic()),
                           return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work

    def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task:
        async def supervised() -> None:
            delay = RESTART_DELAY[0]
            while True:
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; restarting it in %.1fs", name, delay)
                    metrics.errors.labels(name.split()[-1], name.split()[0], "run", "crash").inc()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RESTART_DELAY[1])

        return asyncio.create_task(supervised(), name=name)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        if self._stop_requested.is_set():
            log.warning("%s again: exiting now; undelivered records stay in the spool", signal.Signals(signum).name)
            self._forced.set()
        else:
            log.info("%s received", signal.Signals(signum).name)
            self._stop_requested.set()

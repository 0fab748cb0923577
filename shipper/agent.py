"""Wires the configuration into components, runs them, and stops them in order on a signal.

Shutdown (SIGTERM, SIGINT): sources stop reading and commit; sinks drain until the spool has
nothing left for them or `shutdown_timeout` passes; the agent exits 0 and whatever was not
delivered stays in the spool for the next start. A second SIGINT/SIGTERM exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from shipper import backoff, kernels
from shipper.buffer.data_dir import DataDirLock, DataDirLocked, make_private
from shipper.buffer.layout import SpoolTooNew
from shipper.buffer.spool import Spool, SpoolUnavailable
from shipper.components import SINKS, SOURCES, TRANSFORMS, load_config
from shipper.config.base import Options, SinkOptions, SourceOptions, TransformOptions
from shipper.config.errors import ConfigError
from shipper.config.model import AgentConfig
from shipper.config.preflight import environment_issues, warnings
from shipper.config.watch import ConfigWatcher
from shipper.observe import metrics
from shipper.observe.logs import setup_logging
from shipper.sinks.base import Sink
from shipper.sources.base import Source
from shipper.transforms.base import Transform
from shipper.transforms.pipeline import fanout

if TYPE_CHECKING:
    from shipper.api import Api

log = logging.getLogger(__name__)

EXIT_FORCED = 130
EXIT_SPOOL_UNAVAILABLE = 75  # EX_TEMPFAIL: the spool cannot be opened now; a restart later may succeed
EXIT_ENVIRONMENT = 75  # the machine lacks what the configuration needs (a file, a port, the data dir's lock)
GC_THRESHOLD = 20_000  # allocations between young collections (Python's default is 700)
OPEN_FILES_WANTED = 1_048_576  # when the hard limit is unlimited (the kernel's usual nr_open)
RESTART_DELAY = (0.5, 30.0)  # a component that crashed is restarted after this backoff range


def settle_heap() -> None:
    """Start-up leaves a large heap of long-lived objects (botocore's service models, pydantic
    schemas): keep the collector from walking it again and again while records stream through."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)


def _raise_open_files_limit() -> None:
    """A node can hold thousands of log files, each kept open while tailed: lift the soft limit on
    open files to the hard one (systemd and many shells start services with a soft limit of 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as error:
        log.warning("open files stay limited to %d (raising the limit to %d failed: %s)", soft, wanted, error)
        return
    log.info("open files limit raised from %d to %d", soft, wanted)


class StartFailed(Exception):
    """A component could not start; the message names it and the cause."""


def _describe(error: BaseException) -> str:
    """An error as one line for the user: its own message, or its kind when it has none."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _report_failure(labels: tuple[str, str, str], error: Exception, delay: float) -> None:
    name = " ".join(labels[:2])
    if isinstance(error, sqlite3.Error):  # a full or read-only disk: a traceback would tell nothing more
        log.error("%s failed: the spool cannot be written (%s); restarting it in %.1fs, nothing is lost",
                  name, error, delay)
        metrics.errors.labels(*labels, "spool", "unwritable").inc()
    elif isinstance(error, OSError):  # the machine's doing (a port taken, a directory gone): one line says it
        log.error("%s failed: %s; restarting it in %.1fs", name, _describe(error), delay)
        metrics.errors.labels(*labels, "run", type(error).__name__).inc()
    else:
        log.exception("%s failed; restarting it in %.1fs", name, delay)
        metrics.errors.labels(*labels, "run", "crash").inc()


Component = TypeVar("Component", Source, Sink)


@dataclass
class Running(Generic[Component]):
    """A source or sink and the supervised task that runs it."""

    component: Component
    task: asyncio.Task[None]


class Agent:
    def __init__(self, config: AgentConfig, config_path: str | None = None, watch_config: bool = False):
        self.config = config
        self.config_path = config_path  # read again on SIGHUP, and on a change when watched
        self._watch_config = watch_config
        self.hostname = socket.gethostname()
        self.sources: dict[str, Running[Source]] = {}
        self.sinks: dict[str, Running[Sink]] = {}
        self.transforms: dict[str, Transform] = {}
        self._stop_requested = asyncio.Event()
        self._reload_requested = asyncio.Event()
        self._forced = asyncio.Event()
        self._api: Api | None = None

    async def run(self) -> int:
        """Run until a stop; every failure to start is one line naming its cause and an exit code
        (EXIT_ENVIRONMENT: the machine lacks something the configuration needs), never a traceback."""
        self._install_signal_handlers()
        _raise_open_files_limit()
        issues = environment_issues(self.config, api_port=False)  # the port is found busy when bound
        if issues:
            log.error("cannot start: %s", "; ".join(map(str, issues)))
            return EXIT_ENVIRONMENT
        for warning in warnings(self.config, globs=False):
            log.warning("%s", warning)
        os.umask(0o077)  # whatever the agent creates (spool, WAL, lock) is its user's alone
        try:
            lock = DataDirLock.acquire(self.config.data_dir)
            make_private(self.config.data_dir)
        except (DataDirLocked, OSError) as error:
            log.error("cannot start: %s", error)
            return EXIT_ENVIRONMENT
        try:
            return await self._run_locked()
        finally:
            lock.release()

    async def _run_locked(self) -> int:
        try:
            self.spool = Spool.open(self.config.data_dir, self.config.buffer.max_size)
        except (SpoolUnavailable, SpoolTooNew, OSError) as error:
            log.error("%s; nothing was read or sent, and the spool is kept as it is", error)
            return EXIT_SPOOL_UNAVAILABLE
        try:
            sinks: list[Sink] = []
            try:
                sinks = await self._make_sinks(self.config.sinks)
                await self._start_api()
            except StartFailed as error:
                log.error("cannot start: %s; nothing was read or sent", error)
                for sink in sinks:
                    with contextlib.suppress(Exception):
                        await sink.close()
                return EXIT_ENVIRONMENT
            self.transforms = _make_transforms(self.config.transforms)
            settle_heap()
            self.spool.attach_sinks({sink_id: o.inputs for sink_id, o in self.config.sinks.items()})
            self._start_sinks(sinks)
            self._start_sources(self.config.sources)
            watcher = None
            if self.config_path and (self._watch_config or self.config.watch_config):
                watcher = ConfigWatcher(self.config_path, self._reload_requested.set)
                watcher.start()
            try:
                log.info("running %d source(s), %d sink(s); %s", len(self.sources), len(self.sinks), kernels.describe())
                while await self._next_request() == "reload":
                    try:
                        await self._reload()
                    except Exception:  # a bug of ours: report it, never let a reload take the agent down
                        log.exception("reload: the reload failed; components may run with the old configuration")
                return await self._shutdown()
            finally:
                if watcher is not None:
                    await watcher.stop()
                if self._api is not None:
                    await self._api.stop()
        finally:
            self.spool.close()

    # -- components ------------------------------------------------------------------------------

    async def _make_sinks(self, options: Mapping[str, SinkOptions]) -> list[Sink]:
        """Make and open the sinks, or none of them: StartFailed names the one that failed and why."""
        sinks: list[Sink] = []
        try:
            for sink_id, o in options.items():
                try:
                    sink = SINKS[o.type].load()(sink_id, o, self.spool)
                    if self.config.api is not None:
                        sink.unready_after = self.config.api.unready_after
                    await sink.open()
                except Exception as error:
                    raise StartFailed(f"sink {sink_id}: {_describe(error)}") from error
                sinks.append(sink)
        except StartFailed:
            for sink in sinks:
                with contextlib.suppress(Exception):
                    await sink.close()
            raise
        return sinks

    def _start_sinks(self, sinks: list[Sink]) -> None:
        for sink in sinks:
            self.sinks[sink.id] = Running(sink, self._supervise(sink.labels, self._sink_runner(sink)))

    def _sink_runner(self, first: Sink) -> Callable[[], Awaitable[None]]:
        """Runs the sink; after a failure, a new one made from the spool, as after a restart: what the
        failed one held in memory (batches taken, acknowledgements pending) cannot be trusted."""
        current = first
        started = False

        async def run() -> None:
            nonlocal current, started
            if started:
                with contextlib.suppress(Exception):
                    await current.close()
                unready_after = current.unready_after
                current = SINKS[current.options.type].load()(current.id, current.options, self.spool)
                current.unready_after = unready_after
                await current.open()
                self.sinks[current.id].component = current
            started = True
            await current.run()

        return run

    def _start_sources(self, options: Mapping[str, SourceOptions]) -> None:
        topology = self.config.topology()
        for source_id, o in options.items():
            source = SOURCES[o.type].load()(source_id, o, self.spool, self.hostname)
            source.fanout = fanout(topology.plan(source_id), self.transforms)
            self.sources[source_id] = Running(source, self._supervise(source.labels, source.run, source.stopping,
                                                                      source))

    def _apply_transforms(self, config: AgentConfig) -> None:
        """Transforms of the new configuration in place for every running source: what a source reads
        from now on goes through them. Unchanged transforms keep their state (throttle budgets)."""
        kept = {i: t for i, t in self.transforms.items() if config.transforms.get(i) == t.options}
        self.transforms = {**kept, **_make_transforms({i: o for i, o in config.transforms.items() if i not in kept})}
        topology = config.topology()
        for source_id, running in self.sources.items():
            running.component.fanout = fanout(topology.plan(source_id), self.transforms)

    async def _start_api(self) -> None:
        if self.config.api is not None:
            from shipper.api import Api  # aiohttp's server, imported only when configured

            api = Api(self.config.api, self.spool, lambda: [r.component for r in self.sinks.values()],
                      lambda: [r.component for r in self.sources.values()],
                      lambda: sorted(self.config.topology().owner))
            try:
                await api.start()
            except OSError as error:
                raise StartFailed(f"api.address {self.config.api.address}: {_describe(error)}") from error
            self._api = api

    async def _stop_sources(self, ids: Iterable[str], deadline: float) -> None:
        stopping = [self.sources.pop(source_id) for source_id in ids]
        for running in stopping:
            running.component.stop()
        await self._wait_until(asyncio.gather(*(r.task for r in stopping), return_exceptions=True), deadline)

    async def _stop_sinks(self, ids: Iterable[str]) -> None:
        stopping = [self.sinks.pop(sink_id) for sink_id in ids]
        for running in stopping:
            running.task.cancel()
        await asyncio.gather(*(r.task for r in stopping), return_exceptions=True)
        for running in stopping:
            await running.component.close()

    # -- signals: stop and reload ----------------------------------------------------------------

    async def _next_request(self) -> str:
        stop = asyncio.ensure_future(self._stop_requested.wait())
        reload = asyncio.ensure_future(self._reload_requested.wait())
        await asyncio.wait({stop, reload}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (stop, reload):
            waiter.cancel()
        if self._stop_requested.is_set():
            return "stop"
        self._reload_requested.clear()
        return "reload"

    async def _reload(self) -> None:
        """Apply the configuration file again: components added, removed or changed; spool and
        checkpoints kept. An invalid file, or one that moves data_dir, is refused and nothing changes.
        Parked streams are tried again at once either way: the operator may have fixed their cause."""
        for running in self.sinks.values():
            running.component.retry_parked()
        try:
            new = load_config(self.config_path) if self.config_path else None
        except ConfigError as error:
            log.error("reload: the new configuration is refused; the running one stays:\n%s", error.render())
            return
        if new is None:
            return
        if new.data_dir != self.config.data_dir:
            log.error("reload: data_dir cannot change while running (restart to move the spool); nothing reloaded")
            return
        issues = environment_issues(new, api_port=False, data_dir=False)
        if issues:
            log.error("reload: the new configuration is refused, the running one stays: %s",
                      "; ".join(map(str, issues)))
            return
        old = self.config
        sink_changes = _changes(old.sinks, new.sinks)
        source_changes = _changes(old.sources, new.sources)
        try:  # made before anything stops: a sink that cannot start leaves the running ones as they are
            sinks = await self._make_sinks({i: new.sinks[i] for i in sink_changes.new})
        except StartFailed as error:
            log.error("reload: the new configuration is refused, the running one stays: %s", error)
            return
        deadline = time.monotonic() + new.shutdown_timeout
        await self._stop_sources(source_changes.gone, deadline)
        await self._stop_sinks(sink_changes.gone)
        self.spool.attach_sinks({sink_id: o.inputs for sink_id, o in new.sinks.items()})
        self._start_sinks(sinks)
        self._apply_transforms(new)
        self.config = new
        self._start_sources({i: new.sources[i] for i in source_changes.new})
        self.spool.max_size = new.buffer.max_size
        setup_logging(new.log.level, new.log.format, new.log.sdk_debug)
        if new.api != old.api:
            if self._api is not None:
                await self._api.stop()
                self._api = None
            try:
                await self._start_api()
            except StartFailed as error:
                log.error("reload: %s; the API stays off until the next reload or restart", error)
        log.info("reload: configuration reloaded; sources %s, transforms %s, sinks %s", source_changes,
                 _changes(old.transforms, new.transforms), sink_changes)

    async def _shutdown(self) -> int:
        deadline = time.monotonic() + self.config.shutdown_timeout
        log.info("stopping: sources first, then draining sinks for up to %.1fs", self.config.shutdown_timeout)
        await self._stop_sources(list(self.sources), deadline)
        sinks = [r.component for r in self.sinks.values()]
        for sink in sinks:
            sink.drain()
        await self._wait_until(asyncio.gather(*(s.idle.wait() for s in sinks)), deadline)
        await self._stop_sinks(list(self.sinks))
        left = {sink.id: self.spool.backlog(sink.id) for sink in sinks}
        if any(left.values()):
            log.warning("stopped with undelivered records kept in the spool: %s", left)
        return EXIT_FORCED if self._forced.is_set() else 0

    async def _wait_until(self, work: Awaitable[Any], deadline: float) -> None:
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

    def _supervise(self, labels: tuple[str, str, str], run: Callable[[], Awaitable[None]],
                   stopping: asyncio.Event | None = None, source: Source | None = None) -> asyncio.Task[None]:
        """Run a component (its kind, id and type in `labels`), restarting it with backoff when it fails,
        until it is asked to stop (`stopping`): a component failing in a loop never holds a stop up."""
        async def supervised() -> None:
            failures = 0
            while stopping is None or not stopping.is_set():
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    failures += 1
                    wait = backoff.delay(failures, *RESTART_DELAY)
                    _report_failure(labels, error, wait)
                    if source is not None:
                        source.failures_in_row, source.last_failure = failures, _describe(error)
                        source.last_failure_at = time.monotonic()
                    if stopping is None:
                        await asyncio.sleep(wait)
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stopping.wait(), wait)

        return asyncio.create_task(supervised(), name=" ".join(labels[:2]))

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        loop.add_signal_handler(signal.SIGHUP, self._reload_requested.set)

    def _on_signal(self, signum: int) -> None:
        if self._stop_requested.is_set():
            log.warning("%s again: exiting now; undelivered records stay in the spool", signal.Signals(signum).name)
            self._forced.set()
        else:
            log.info("%s received", signal.Signals(signum).name)
            self._stop_requested.set()


def _make_transforms(options: Mapping[str, TransformOptions]) -> dict[str, Transform]:
    return {transform_id: TRANSFORMS[o.type].load()(transform_id, o) for transform_id, o in options.items()}


@dataclass
class Changes:
    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def gone(self) -> list[str]:
        """Components to stop: removed, or changed (restarted with the new options)."""
        return self.removed + self.changed

    @property
    def new(self) -> list[str]:
        return self.added + self.changed

    def __str__(self) -> str:
        return f"+{self.added} -{self.removed} ~{self.changed}"


def _changes(old: Mapping[str, Options], new: Mapping[str, Options]) -> Changes:
    return Changes(
        added=[i for i in new if i not in old],
        removed=[i for i in old if i not in new],
        changed=[i for i in new if i in old and new[i] != old[i]],
    )

"""The HTTP API: `/metrics` (Prometheus), `/healthz` (the process and its event loop answer) and
`/readyz` (every sink can deliver and the spool has room), for probes and scrapers.

It listens on the node's network (kubelet probes it), so it is built to be safe to expose: GET only,
no request body, one request per connection, a request head of at most `MAX_HEAD` bytes that must
arrive within `HEAD_TIMEOUT`, at most `MAX_CONNECTIONS` connections at once (more are closed at
once), and error texts in `/readyz` as a reason code and a short message with ARNs and account ids
taken out (the full text is in the agent's log). A general-purpose server (aiohttp's) waits for a
request head without a time limit and takes any number of connections: thousands of half-open
requests were held open in a trial. Three fixed answers need no more than asyncio's streams.

`/tap/<id>` (only with `api.tap`; a bearer `api.token` when set, and the options refuse a tap on a
non-loopback address without one) streams the records leaving a source, transform or route output
as NDJSON until the client goes, `?limit=N` records were sent, or the agent stops (observe/tap.py
bounds what waits for a slow client). At most MAX_TAPS at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import urllib.parse
from collections.abc import Callable, Sequence

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from shipper.buffer.spool import Spool
from shipper.config.model import ApiOptions
from shipper.observe import metrics
from shipper.observe.tap import TAP
from shipper.sinks.base import Sink
from shipper.sources.base import Source

log = logging.getLogger(__name__)

HEAD_TIMEOUT = 5.0  # seconds for the request line and headers
WRITE_TIMEOUT = 10.0  # seconds for the answer to leave
MAX_HEAD = 8 * 1024
MAX_CONNECTIONS = 64
MAX_TAPS = 8
MAX_MESSAGE = 200  # characters of an error message in /readyz
_ACCOUNT_DETAILS = re.compile(r"arn:aws[\w-]*:[^\s\"',)]*|\b\d{12}\b")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            429: "Too Many Requests", 503: "Service Unavailable"}


def public_message(text: str) -> str:
    """An error text fit for an unauthenticated endpoint: no ARNs or account ids, short."""
    cleaned = _ACCOUNT_DETAILS.sub("(redacted)", text)
    return cleaned if len(cleaned) <= MAX_MESSAGE else cleaned[: MAX_MESSAGE - 1] + "…"


class Api:
    def __init__(self, options: ApiOptions, spool: Spool, sinks: Callable[[], Sequence[Sink]],
                 sources: Callable[[], Sequence[Source]] = list, streams: Callable[[], Sequence[str]] = list):
        self.options = options
        self.host, _, port = options.address.rpartition(":")
        self.sources = sources
        self.streams = streams  # what can be tapped: sources and transform outputs
        self._taps = 0
        self.port = int(port)
        self.spool = spool
        self.sinks = sinks
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host.strip("[]") or None, self.port,
                                                  limit=MAX_HEAD)
        log.info("API listening on %s:%d (/metrics, /healthz, /readyz)", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._connections) >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        assert task is not None
        self._connections.add(task)
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            tapped = _tap_target(request)
            if tapped is not None and self.options.tap:
                await self._tap(reader, writer, request, *tapped)
                return
            await _respond(writer, *self._answer(request))
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # a client that is too slow, too large or gone: nothing to answer
        finally:
            self._connections.discard(task)
            writer.close()

    def _answer(self, head: bytes) -> tuple[int, str, bytes]:
        request = _request_line(head)
        if request is None:
            return 400, "text/plain", b"bad request\n"
        method, target, _ = request
        if target not in ("/metrics", "/healthz", "/readyz"):
            return 404, "text/plain", b"not found\n"
        if method != "GET":
            return 405, "text/plain", b"GET only\n"
        if target == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        if target == "/healthz":
            return 200, "application/json", orjson.dumps({"status": "ok"})  # answering proves the loop runs
        return self.readiness()

    def readiness(self) -> tuple[int, str, bytes]:
        """503 while a sink cannot deliver (Sink.problem: an error that needs an operator, failures in
        a row, or records waiting `unready_after` with none delivered) or the spool is full. Parked
        streams are reported, but a sink whose other streams deliver stays ready: the node is
        degraded, not stopped."""
        sinks = self.sinks()
        problems = {}
        for sink in sinks:
            problem = sink.problem()
            if problem is not None:
                problems[sink.id] = {"reason": problem[0], "message": public_message(problem[1])}
        for source in self.sources():
            failing = source.problem()
            if failing is not None:
                problems[source.id] = {"reason": failing[0], "message": public_message(failing[1])}
        if self.spool.is_full:
            problems["spool"] = {"reason": "spool_full", "message": f"full ({self.spool.size} of "
                                 f"{self.spool.max_size} bytes); sources are paused"}
        parked = {sink.id: {stream: public_message(why) for stream, why in streams.items()}
                  for sink in sinks if (streams := sink.parked_streams())}
        errors = {sink.id: {"kind": sink.last_error_kind, "message": public_message(sink.last_error),
                            "at": sink.last_error_at, "count": sink.errors_total, "in_a_row": sink.failures_in_row}
                  for sink in sinks if sink.errors_total}
        body = {"ready": not problems, "problems": problems, **({"parked": parked} if parked else {}),
                **({"errors": errors} if errors else {})}
        return (200 if not problems else 503), "application/json", orjson.dumps(body)

    async def _tap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, name: str,
                   limit: int) -> None:
        """Records of stream `name` as NDJSON lines, until the client goes, `limit` lines (0: no limit)
        were written, or the agent stops."""
        refusal = self._tap_refusal(head, name)
        if refusal is not None:
            status, text = refusal
            await _respond(writer, status, "text/plain", text.encode() + b"\n")
            return
        watcher = TAP.watch(name)
        self._taps += 1
        metrics.api_taps.set(self._taps)
        gone = asyncio.ensure_future(reader.read(1))  # the client sends nothing more: b"" once it closes
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n")
            sent = 0
            while not limit or sent < limit:
                arrived = asyncio.ensure_future(watcher.arrived.wait())
                await asyncio.wait({arrived, gone}, return_when=asyncio.FIRST_COMPLETED)
                arrived.cancel()
                if gone.done():
                    return
                lines = watcher.take()
                if limit:
                    lines = lines[:limit - sent]
                writer.write(b"".join(line + b"\n" for line in lines))
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
                sent += len(lines)
        finally:
            gone.cancel()
            TAP.unwatch(watcher)
            self._taps -= 1
            metrics.api_taps.set(self._taps)

    def _tap_refusal(self, head: bytes, name: str) -> tuple[int, str] | None:
        token = self.options.token
        if token is not None and not _bearer_is(head, token.get_secret_value()):
            return 401, "tap needs the API token (Authorization: Bearer ...)"
        known = list(self.streams())
        if name not in known:
            return 404, f"no source, transform or route output {name!r} (known: {', '.join(known)})"
        if self._taps >= MAX_TAPS:
            return 429, f"{MAX_TAPS} taps are open already"
        return None


async def _respond(writer: asyncio.StreamWriter, status: int, content_type: str, body: bytes) -> None:
    """One whole answer, and the connection is done."""
    head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    writer.write(head + body)
    await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)


def _request_line(head: bytes) -> tuple[str, str, str] | None:
    """(method, path, query) of an HTTP/1.x request head; None when it is not one."""
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    path, _, query = parts[1].partition("?")
    return parts[0], path, query


def _tap_target(head: bytes) -> tuple[str, int] | None:
    """(stream, limit) of a `GET /tap/<stream>?limit=N` request; None for any other request."""
    request = _request_line(head)
    if request is None or request[0] != "GET" or not request[1].startswith("/tap/"):
        return None
    _, path, query = request
    limit = urllib.parse.parse_qs(query).get("limit", ["0"])[0]
    return urllib.parse.unquote(path.removeprefix("/tap/")), int(limit) if limit.isascii() and limit.isdigit() else 0


def _bearer_is(head: bytes, token: str) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "authorization":
            return hmac.compare_digest(value.strip().encode("latin-1"), f"Bearer {token}".encode())
    return False

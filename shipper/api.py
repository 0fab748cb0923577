"""The HTTP API: `/metrics` (Prometheus), `/healthz` (the process and its event loop answer) and
`/readyz` (every sink can deliver and the spool has room), for probes and scrapers.

It listens on the node's network (kubelet probes it), so it is built to be safe to expose: GET only,
no request body, one request per connection, a request head of at most `MAX_HEAD` bytes that must
arrive within `HEAD_TIMEOUT`, at most `MAX_CONNECTIONS` connections at once (more are closed at
once), and error texts in `/readyz` as a reason code and a short message with ARNs and account ids
taken out (the full text is in the agent's log). A general-purpose server (aiohttp's) waits for a
request head without a time limit and takes any number of connections: thousands of half-open
requests were held open in a trial. Three fixed answers need no more than asyncio's streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Sequence

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from shipper.buffer.spool import Spool
from shipper.sinks.base import Sink
from shipper.sources.base import Source

log = logging.getLogger(__name__)

HEAD_TIMEOUT = 5.0  # seconds for the request line and headers
WRITE_TIMEOUT = 10.0  # seconds for the answer to leave
MAX_HEAD = 8 * 1024
MAX_CONNECTIONS = 64
MAX_MESSAGE = 200  # characters of an error message in /readyz
_ACCOUNT_DETAILS = re.compile(r"arn:aws[\w-]*:[^\s\"',)]*|\b\d{12}\b")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def public_message(text: str) -> str:
    """An error text fit for an unauthenticated endpoint: no ARNs or account ids, short."""
    cleaned = _ACCOUNT_DETAILS.sub("(redacted)", text)
    return cleaned if len(cleaned) <= MAX_MESSAGE else cleaned[: MAX_MESSAGE - 1] + "…"


class Api:
    def __init__(self, address: str, spool: Spool, sinks: Callable[[], Sequence[Sink]], unready_after: float = 120.0,
                 sources: Callable[[], Sequence[Source]] = list):
        self.host, _, port = address.rpartition(":")
        self.unready_after = unready_after
        self.sources = sources
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
            status, content_type, body = await self._answer(reader)
            head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            writer.write(head + body)
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # a client that is too slow, too large or gone: nothing to answer
        finally:
            self._connections.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if len(request_line) != 3 or not request_line[2].startswith("HTTP/1."):
            return 400, "text/plain", b"bad request\n"
        method, target = request_line[0], request_line[1].split("?", 1)[0]
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
            problem = sink.problem(self.unready_after)
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

"""An HTTP log collector on loopback that records what it accepted and answers as told.

Answers, checked in this order for each request:
- `require(header, value)`: a request without that header value gets 401;
- `refuse_containing(text, status)`: a request whose body holds `text` gets `status`, every time;
- `limit_body(size)`: a request whose (decompressed) body is larger gets 413;
- `answer(status, count, retry_after, location)`: the next `count` requests get `status` (queued in order),
  with a Retry-After (a number, or the header's text as given) and a Location;
- `hold(seconds)`: every answer waits this long (requests pile up in flight);
- otherwise 200, and the request's body is *accepted*.
A gzip body (Content-Encoding: gzip) is decompressed; `sent_size` keeps its size on the wire.
`messages()` reads the accepted bodies as the sink's encodings write them. It runs its own event
loop in a thread, so synchronous tests can drive it.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections import Counter, deque
from dataclasses import dataclass

import orjson
from aiohttp import web

from peers.server import ThreadedServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes  # decompressed
    status: int  # what the collector answered
    sent_size: int | None  # Content-Length: the body's size as sent (compressed)


class HttpCollector(ThreadedServer):
    def __init__(self, keep_bodies: bool = True) -> None:
        """`keep_bodies=False` (benchmarks): accepted bodies are only counted, by lines, in `lines`."""
        super().__init__()
        self.keep_bodies = keep_bodies
        self.lines = 0
        self.requests: list[Received] = []
        self.statuses: Counter[int] = Counter()
        self.most_in_flight = 0
        self._in_flight = 0
        self._queued: deque[tuple[int, float | str | None, str | None]] = deque()
        self._refusals: list[tuple[bytes, int]] = []
        self._required: dict[str, str] = {}
        self._hold = 0.0
        self._body_limit: int | None = None
        self._lock = threading.Lock()

    # -- commands --------------------------------------------------------------------------------

    def answer(self, status: int, count: int = 1, retry_after: float | str | None = None,
               location: str | None = None) -> None:
        with self._lock:
            self._queued.extend([(status, retry_after, location)] * count)

    def pending(self) -> int:
        """Answers queued by `answer` and not given yet."""
        with self._lock:
            return len(self._queued)

    def clear(self) -> None:
        """No answer left queued: every request is taken (refusals and requirements stay)."""
        with self._lock:
            self._queued.clear()

    def refuse_containing(self, text: str, status: int) -> None:
        with self._lock:
            self._refusals.append((text.encode(), status))

    def require(self, header: str, value: str | None) -> None:
        with self._lock:
            if value is None:
                self._required.pop(header.lower(), None)
            else:
                self._required[header.lower()] = value

    def limit_body(self, size: int | None) -> None:
        self._body_limit = size

    def hold(self, seconds: float) -> None:
        self._hold = seconds

    # -- what arrived ----------------------------------------------------------------------------

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def events(self) -> list[dict]:
        """Every record accepted, from ndjson or json_array bodies, in arrival order."""
        out: list[dict] = []
        for request in self.accepted():
            if request.body.startswith(b"["):
                out += orjson.loads(request.body)
            else:
                out += [orjson.loads(line) for line in request.body.splitlines() if line]
        return out

    def messages(self) -> list[str]:
        """The message of every record accepted (json encodings), or every line (text)."""
        out: list[str] = []
        for request in self.accepted():
            if request.headers.get("content-type", "").startswith("text/plain"):
                out += request.body.decode().splitlines()
        return out or [event["message"] for event in self.events()]

    # -- serving ---------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{path:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()  # aiohttp's server decompresses gzip bodies itself
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        with self._lock:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            if self._hold:
                await asyncio.sleep(self._hold)
            status, retry_after, location = self._decide(request, body)
        finally:
            with self._lock:
                self._in_flight -= 1
        headers = {"Retry-After": retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
                   } if retry_after is not None else {}
        if location is not None:
            headers["Location"] = location
        if not self.keep_bodies:
            with self._lock:
                self.statuses[status] += 1
                self.lines += body.count(b"\n") if status < 300 else 0
            return web.Response(status=status, headers=headers)
        with self._lock:
            self.requests.append(Received(request.method, request.path,
                                          {k.lower(): v for k, v in request.headers.items()}, body, status,
                                          request.content_length))
            self.statuses[status] += 1
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "refused")

    def _decide(self, request: web.Request, body: bytes) -> tuple[int, float | str | None, str | None]:
        with self._lock:
            for header, value in self._required.items():
                if request.headers.get(header) != value:
                    return 401, None, None
            for text, status in self._refusals:
                if text in body:
                    return status, None, None
            if self._body_limit is not None and len(body) > self._body_limit:
                return 413, None, None
            if self._queued:
                return self._queued.popleft()
        return 200, None, None

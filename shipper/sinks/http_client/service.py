"""One request to the collector and what its answer means (see retry.py for what follows from it).

The Authorization header and the configured headers are built once here and never logged; the URI
is logged without its query.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pybase64

from shipper import __version__
from shipper.config.http_client import HttpClientOptions

RETRY_AFTER_MOST = 300.0  # seconds: a longer Retry-After is taken as this (a server's mistake must not stall us)


class Outcome(enum.Enum):
    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # 408, 429, 5xx, or no answer (connection refused or reset, timeout): send again
    TOO_LARGE = "too_large"  # 413: send the batch in halves
    REJECTED = "rejected"  # any other answer: this batch will never be taken; it is discarded and counted
    UNAUTHORIZED = "unauthorized"  # 401, 403, 407: the sink is not ready; keep the data, keep retrying
    UNTRUSTED = "untrusted"  # the server's certificate fails verification: not ready, keep retrying
    REDIRECTED = "redirected"  # 3xx: the uri is not where the collector is; not ready, keep the data, keep retrying


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    reason: str  # the status (`429`), or what went wrong without one (`connection`, `timeout`)
    retry_after: float | None = None  # seconds the server asked us to wait
    location: str | None = None  # where a 3xx points, without its query
    body: bytes = b""  # of a 2xx (and of a 4xx if asked), when the sink reads it (at most `max_answer` bytes)
    detail: str = ""  # what went wrong before a request could be sent (no secret in it)


MAX_ANSWER_BODY = 64 * 1024


class NoCredentials(Exception):
    """The `authorize` hook could not make an Authorization header; the message says why, without any
    secret."""


def retried_by_http(status: int) -> bool:
    """The http sink's statuses worth sending again: 408, 429 and every 5xx."""
    return status in (408, 429) or status >= 500


class Service:
    """Sends request bodies to `options.request_uri`; `retried` says which refusals are worth sending
    again (the http sink's by default; `meaning_of` reads every other status alike), `read_body`
    keeps what a 2xx answer says (and `read_refusals` what a 4xx says, up to `max_answer` bytes), and
    `authorize` makes each request's Authorization header (a token that expires)."""

    def __init__(self, options: HttpClientOptions, content_type: str, method: str = "post",
                 retried: Callable[[int], bool] = retried_by_http, read_body: bool = False, *,
                 read_refusals: bool = False, max_answer: int = MAX_ANSWER_BODY,
                 authorize: Callable[[], Awaitable[str]] | None = None):
        self.options, self.method, self.read_body, self.retried = options, method.upper(), read_body, retried
        self.read_refusals, self.max_answer, self.authorize = read_refusals, max_answer, authorize
        self.headers = {"User-Agent": f"shipper/{__version__}", "Content-Type": content_type,
                        **options.headers}
        if options.compression == "gzip":
            self.headers["Content-Encoding"] = "gzip"
        auth = options.auth
        if auth is not None and auth.strategy == "basic":
            assert auth.user is not None and auth.password is not None  # the options check both are there
            pair = f"{auth.user}:{auth.password.get_secret_value()}".encode()
            self.headers["Authorization"] = "Basic " + pybase64.b64encode(pair).decode("ascii")
        elif auth is not None:
            assert auth.token is not None
            self.headers["Authorization"] = "Bearer " + auth.token.get_secret_value()
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        context: ssl.SSLContext | bool = self.options.tls.context() if self.options.secure else False
        connector = aiohttp.TCPConnector(ssl=context, limit=self.options.max_requests_in_flight)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.options.request_timeout),
            auto_decompress=False, trust_env=False)

    async def send(self, body: bytes) -> Answer:
        if self._session is None:
            await self.open()
        assert self._session is not None
        headers = self.headers
        if self.authorize is not None:
            try:
                headers = {**headers, "Authorization": await self.authorize()}
            except NoCredentials as error:
                return Answer(Outcome.UNAUTHORIZED, "credentials", detail=str(error))
        try:
            async with self._session.request(self.method, self.options.request_uri, data=body,
                                             headers=headers, allow_redirects=False) as response:
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
                location = response.headers.get("Location")
                reading = (self.read_body and status < 300) or (self.read_refusals and 400 <= status < 500)
                said = await response.content.read(self.max_answer) if reading else b""
        except (aiohttp.ClientConnectorCertificateError, ssl.SSLCertVerificationError):
            return Answer(Outcome.UNTRUSTED, "certificate")
        except TimeoutError:
            return Answer(Outcome.RETRY, "timeout")
        except (aiohttp.ClientError, OSError):
            return Answer(Outcome.RETRY, "connection")
        if 300 <= status < 400:
            return Answer(Outcome.REDIRECTED, str(status), location=_without_query(location or "(no Location)"))
        answer = meaning_of(status, retry_after, self.retried)
        return dataclasses.replace(answer, body=said) if said else answer

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def meaning_of(status: int, retry_after: float | None, retried: Callable[[int], bool] = retried_by_http) -> Answer:
    """What a status means, `retried` saying which refusals are worth sending again (the sinks' docs
    say why)."""
    reason = str(status)
    if 200 <= status < 300:
        return Answer(Outcome.DELIVERED, reason)
    if retried(status):
        return Answer(Outcome.RETRY, reason, retry_after)
    if status == 413:
        return Answer(Outcome.TOO_LARGE, reason)
    if status in (401, 403, 407):
        return Answer(Outcome.UNAUTHORIZED, reason)
    return Answer(Outcome.REJECTED, reason)


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds to wait: delay-seconds or an HTTP date (RFC 9110 10.2.3); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():  # delay-seconds is ASCII digits; `²` and `٣` are digits to Python, not to the RFC
        return min(float(value), RETRY_AFTER_MOST) if value.isascii() else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, when.timestamp() - time.time()), RETRY_AFTER_MOST)


def _without_query(location: str) -> str:
    parts = urllib.parse.urlsplit(location)
    return urllib.parse.urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))[:200]

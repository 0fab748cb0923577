"""The agent's own logs: text, JSON or logfmt on stderr; repeats rate-limited; credentials masked.

A message that repeats (same logger, level and text) is written once per `REPEAT_WINDOW`;
the next one written says how many were held back.

Secrets never reach a line, whoever logged it, at any level, in any format. Two nets: by value, the
credentials the agent resolved (`register_secret`) and every value the pattern net caught before,
wherever they appear (an XML response, a bytes repr, a header); by pattern, anything shaped like an
AWS key id, a secret, a session token, an Authorization header or a password. The AWS SDK's and
HTTP libraries' own debug output (request and response bodies, signing) stays at INFO unless
`log.sdk_debug` asks for it, and their body loggers stay at INFO even then.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson

REPEAT_WINDOW = 10.0  # seconds
SECRETS = re.compile(
    r"(?P<key>(?:AKIA|ASIA)[A-Z0-9]{16})"
    r"|(?P<tag><(?:SecretAccessKey|SessionToken|Token)>)(?P<tagged>[^<]+)"
    r"|(?P<named>(?:aws_secret_access_key|aws_session_token|secret_?access_?key|session_?token|x-amz-security-token"
    r"|authorization|password|token)[\"']?\s*[:=]\s*b?[\"']?)(?P<value>[^\s\"',}<]+)",
    re.IGNORECASE,
)
MIN_SECRET = 8  # shorter values are not learned: masking every "test" would mask words, not secrets
MAX_KNOWN = 256  # values learned at most (credentials rotate hourly: plenty)
_known: dict[str, None] = {}  # secret values (and their encoded forms) masked wherever they appear


def register_secret(value: str | None) -> None:
    """Mask `value` wherever it appears from now on (and its URL-encoded and JSON-escaped forms)."""
    if not value or len(value) < MIN_SECRET or value in _known:
        return
    for form in (value, urllib.parse.quote(value, safe=""), value.replace("/", "\\/")):
        _known[form] = None
    while len(_known) > MAX_KNOWN:
        del _known[next(iter(_known))]


def mask(text: str) -> str:
    for secret in _known:
        if secret in text:
            text = text.replace(secret, "****")

    def replace(match: re.Match[str]) -> str:
        if match["key"]:
            return str(match["key"][:4]) + "****"
        if match["tag"]:
            register_secret(match["tagged"])
            return str(match["tag"]) + "****"
        register_secret(match["value"])
        return str(match["named"]) + "****"

    return SECRETS.sub(replace, text)


class WarningPace:
    """At most one warning per `every` seconds and kind, for events that can happen thousands of times a
    second (a retried request, a refused connection, a repaired record); each warning can say how
    many happened since the last one, so nothing is hidden by the pace."""

    def __init__(self, every: float = REPEAT_WINDOW, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self.clock = clock
        self._said_at: dict[str, float] = {}
        self._since_said: dict[str, int] = {}

    def due(self, kind: str = "", count: int = 1) -> int | None:
        """Count `count` events of `kind`. When a warning about `kind` is due: how many happened since the
        last one (these included); else None."""
        self._since_said[kind] = self._since_said.get(kind, 0) + count
        now = self.clock()
        if kind in self._said_at and now - self._said_at[kind] < self.every:
            return None
        self._said_at[kind] = now
        return self._since_said.pop(kind)


class RepeatLimiter(logging.Filter):
    """Lets the first of a run of identical messages through each window; counts the rest."""

    def __init__(self, window: float = REPEAT_WINDOW, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, int, str], list[float | int]] = {}  # key -> [window start, held back]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window:
            seen[1] += 1
            return False
        held = int(seen[1]) if seen else 0
        self._seen[key] = [now, 0]
        if held:
            record.msg = f"{record.msg} ({held} identical messages held back in the last {self.window:g}s)"
        return True


def rfc3339(record: logging.LogRecord) -> str:
    """The record's time in UTC, RFC 3339 with milliseconds: 2026-12-02T07:05:10.500Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


FIELDS = ("component_kind", "component", "file")  # structured fields a line may carry (ComponentLog)


class ComponentLog(logging.LoggerAdapter[logging.Logger]):
    """A source's or sink's logger: each line carries the component's kind and id as fields (and a
    `file` when a call passes one in `extra`); the text format shows the id before the message."""

    def process(self, msg: object, kwargs: MutableMapping[str, Any]) -> tuple[object, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def _fields(record: logging.LogRecord) -> list[tuple[str, str]]:
    return [(name, mask(str(getattr(record, name)))) for name in FIELDS if getattr(record, name, None)]


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        component = getattr(record, "component", None)
        text = super().format(record)
        if component:
            head, _, message = text.partition(f"{record.name}: ")
            text = f"{head}{record.name}: {component}: {message}"
        return mask(text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {"ts": rfc3339(record), "level": record.levelname.lower(), "logger": record.name,
                 **dict(_fields(record)), "msg": mask(record.getMessage())}
        if record.exc_info:
            event["error"] = mask(self.formatException(record.exc_info))
        return orjson.dumps(event).decode()


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = [("ts", rfc3339(record)), ("level", record.levelname.lower()), ("logger", record.name),
                 *_fields(record), ("msg", mask(record.getMessage()))]
        if record.exc_info:
            pairs.append(("error", mask(self.formatException(record.exc_info))))
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in pairs)


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' "=\n\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


FORMATTERS = {"text": TextFormatter, "json": JsonFormatter, "logfmt": LogfmtFormatter}


SDK_LOGGERS = ("botocore", "aiobotocore", "boto3", "urllib3", "aiohttp", "kubernetes", "asyncio", "google")
BODY_LOGGERS = ("botocore.parsers", "botocore.endpoint", "aiobotocore.endpoint", "aiobotocore.parsers",
                "botocore.hooks", "kubernetes.client.rest",
                "google.auth", "google.oauth2")  # log whole requests and responses (token answers too)


def setup_logging(level: str, format: str, sdk_debug: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FORMATTERS[format]())
    handler.addFilter(RepeatLimiter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if sdk_debug else max(logging.INFO, root.level))
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    for secret in (os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_SESSION_TOKEN")):
        register_secret(secret)

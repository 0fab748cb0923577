"""The agent's own logs: text, JSON or logfmt on stderr; repeats rate-limited; credentials masked.

A message that repeats (same logger, level and text) is written once per `REPEAT_WINDOW`;
the next one written says how many were held back. Anything shaped like an AWS key, secret, session
token or Authorization header is masked before it is written, whoever logged it.
"""

from __future__ import annotations

import logging
import re
import sys
import time

import orjson

REPEAT_WINDOW = 10.0  # seconds
SECRETS = re.compile(
    r"(?P<key>(?:AKIA|ASIA)[A-Z0-9]{16})"
    r"|(?P<named>(?:aws_secret_access_key|aws_session_token|secret_access_key|session_token|x-amz-security-token"
    r"|authorization|password|token)[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\s\"',}]+)",
    re.IGNORECASE,
)


def mask(text: str) -> str:
    def replace(match: re.Match) -> str:
        if match["key"]:
            return match["key"][:4] + "****"
        return match["named"] + "****"

    return SECRETS.sub(replace, text)


class RepeatLimiter(logging.Filter):
    """Lets the first of a run of identical messages through each window; counts the rest."""

    def __init__(self, window: float = REPEAT_WINDOW, clock=time.monotonic):
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


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {"ts": self.formatTime(record), "level": record.levelname.lower(), "logger": record.name,
                 "msg": mask(record.getMessage())}
        if record.exc_info:
            event["error"] = mask(self.formatException(record.exc_info))
        return orjson.dumps(event).decode()


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = [("ts", self.formatTime(record)), ("level", record.levelname.lower()), ("logger", record.name),
                 ("msg", mask(record.getMessage()))]
        if record.exc_info:
            pairs.append(("error", mask(self.formatException(record.exc_info))))
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in pairs)


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' "=\n\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


FORMATTERS = {"text": TextFormatter, "json": JsonFormatter, "logfmt": LogfmtFormatter}


def setup_logging(level: str, format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FORMATTERS[format]())
    handler.addFilter(RepeatLimiter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

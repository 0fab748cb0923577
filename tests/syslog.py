"""A strict RFC 5424 parser for tests (written from the RFC's ABNF, not from our formatter), and
helpers to run the agent against a real rsyslog."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.agent_process import write_config

PRINTUSASCII = r"[\x21-\x7e]"
SD_NAME = r'[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}'
PARAM_VALUE = r'(?:[^"\\\]]|\\["\\\]])*'  # '"', '\' and ']' must be escaped
SD_ELEMENT = rf'\[{SD_NAME}(?: {SD_NAME}="{PARAM_VALUE}")*\]'
TIMESTAMP = (r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
             r"(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)")
HEADER = re.compile(
    rf"<(?P<pri>\d{{1,3}})>(?P<version>[1-9]\d{{0,2}}) (?P<timestamp>-|{TIMESTAMP}) "
    rf"(?P<hostname>-|{PRINTUSASCII}{{1,255}}) (?P<app_name>-|{PRINTUSASCII}{{1,48}}) "
    rf"(?P<procid>-|{PRINTUSASCII}{{1,128}}) (?P<msgid>-|{PRINTUSASCII}{{1,32}}) "
    rf"(?P<sd>-|(?:{SD_ELEMENT})+)(?: (?P<msg>.*))?\Z",
    re.DOTALL,
)
PARAM = re.compile(rf'({SD_NAME})="({PARAM_VALUE})"')


@dataclass
class Message:
    facility: int
    severity: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: dict[str, dict[str, str]]
    msg: str


def parse(raw: str) -> Message:
    """Parse one RFC 5424 message; AssertionError if it is not valid."""
    match = HEADER.match(raw)
    assert match, f"not RFC 5424: {raw[:200]!r}"
    pri = int(match["pri"])
    assert 0 <= pri <= 191 and match["pri"] == str(pri), f"bad PRI {match['pri']}"
    assert match["version"] == "1"
    sd: dict[str, dict[str, str]] = {}
    if match["sd"] != "-":
        for element in re.findall(SD_ELEMENT, match["sd"]):
            name = re.match(SD_NAME, element[1:])[0]
            sd[name] = {k: re.sub(r'\\(["\\\]])', r"\1", v) for k, v in PARAM.findall(element[1 + len(name):])}
    return Message(pri // 8, pri % 8, match["timestamp"], match["hostname"], match["app_name"], match["procid"],
                   match["msgid"], sd, match["msg"] or "")


def octet_frames(payload: bytes) -> list[str]:
    """The messages of an octet-counted payload (`<length> <message>` after one another)."""
    frames = []
    while payload:
        length, _, rest = payload.partition(b" ")
        frames.append(rest[: int(length)].decode("utf-8"))
        payload = rest[int(length):]
    return frames


def syslog_config(tmp_path: Path, port: int, ca_file: Path, *, framing: str = "octet_counting",
                  source: dict | None = None, **sink) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"app": source or {"type": "file", "include": [str(tmp_path / "logs" / "*.log")],
                                      "poll_interval": "50ms"}},
        "sinks": {"papertrail": {"type": "syslog", "inputs": ["app"], "address": f"localhost:{port}",
                                 "tls": {"ca_file": str(ca_file)}, "framing": framing, "app_name": "myapp",
                                 **sink}},
    })

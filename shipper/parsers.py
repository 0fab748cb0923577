"""Text into fields: one function per `format`, each total (a mapping, or None when the text is not in
that format; never an exception).

The named formats are presets of ours. Field names never collide with the names the agent reserves
(`message`, `timestamp`, `host`, `file`, ...): the text after a header is `msg`, the host a line names
is `hostname`. Times written without a year (klog, RFC 3164) are given one (see infer_year) and
written as RFC 3339 in UTC, so `time_key: time` sets the record's time with `time_format: rfc3339`.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from shipper.record import RESERVED, set_aside_reserved
from shipper.regex import compile_regex
from shipper.severity import FACILITIES, SEVERITIES
from shipper.times import infer_year

Parser = Callable[[str], "dict[str, Any] | None"]


def merged(parsed: dict[str, Any], fields: Any) -> dict[str, Any]:
    """Fields parsed from a record's text as the record's fields: names the agent reserves set aside
    under `log` (a line cannot claim another host or pod), then the record's own fields, which win
    (`parsed` is changed: the parser made it for this record alone)."""
    if not RESERVED.isdisjoint(parsed):
        parsed = set_aside_reserved(parsed)
    if fields:
        parsed.update(fields)
    return parsed


def parse_json(text: str) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


_LOGFMT_PAIR = re.compile(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"n": "\n", "t": "\t", "r": "\r"}


def parse_logfmt(text: str) -> dict[str, Any] | None:
    """`level=info msg="a b" ok` -> {level: info, msg: "a b", ok: true}; None without any key=value."""
    fields: dict[str, Any] = {}
    pairs = 0
    for match in _LOGFMT_PAIR.finditer(text):
        key, value = match.group(1), match.group(2)
        if value is None:
            fields.setdefault(key, True)
            continue
        pairs += 1
        if value.startswith('"'):
            value = _ESCAPE.sub(lambda m: _ESCAPED.get(m[1], m[1]), value[1:-1])
        fields[key] = value
    return fields if pairs else None


def regex_parser(pattern: str) -> Parser:
    """The named groups of the first match (searched anywhere: anchor with `^`); groups that did not
    take part in the match are left out. RE2: linear in the text, whatever the pattern."""
    return compile_regex(pattern).groups_of_first_match


# nginx `combined` and Apache `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`; the referer and
# user agent may be missing (the `common` format), and fields logged after them are ignored. Quoted
# text is matched as an unrolled loop (one step per run of plain characters), and a request line of
# the usual `METHOD PATH PROTOCOL` shape is split by the expression itself.
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_COMBINED = re.compile(
    r'(\S+) \S+ (\S+) \[([^\]]*)\] "(?:([A-Z]+) (\S+) (HTTP/[0-9.]+)"|([^"\\]*(?:\\.[^"\\]*)*)") '
    rf"(\d{{3}}|-) (\d+|-)(?: {_QUOTED} {_QUOTED})?")


def parse_combined(text: str) -> dict[str, Any] | None:
    match = _COMBINED.match(text)
    if match is None:
        return None
    remote_addr, remote_user, time_local, method, path, protocol, request, status, size, referer, agent = (
        match.groups())
    fields: dict[str, Any] = {} if remote_addr == "-" else {"remote_addr": remote_addr}
    if remote_user != "-":
        fields["remote_user"] = remote_user
    if time_local != "-":
        fields["time_local"] = time_local
    if method is not None:
        fields["method"] = method
        fields["path"] = path
        fields["protocol"] = protocol
    elif request and request != "-":
        parts = request.split(" ")
        if len(parts) == 2:  # HTTP/0.9: no protocol
            fields["method"], fields["path"] = parts
        else:
            fields["request"] = request
    if status != "-":
        fields["status"] = int(status)
    if size != "-":
        fields["body_bytes_sent"] = int(size)
    if referer is not None:
        if referer != "-":
            fields["http_referer"] = referer
        if agent != "-":
            fields["http_user_agent"] = agent
    return fields


_KLOG = re.compile(r"([IWEF])(\d\d)(\d\d) (\d\d:\d\d:\d\d(?:\.\d{1,9})?)\s+(\d+) ([^:\]\s]+):(\d+)\] ?(.*)", re.DOTALL)
_KLOG_LEVELS = {"I": "info", "W": "warning", "E": "error", "F": "fatal"}


def parse_klog(text: str) -> dict[str, Any] | None:
    """`I1202 10:15:00.123456    1234 server.go:42] msg` (Kubernetes components' own log lines)."""
    match = _KLOG.match(text)
    if match is None:
        return None
    level, month, day, clock, thread, source_file, line, msg = match.groups()
    year = infer_year(int(month), int(day), time.time())
    if year is None:
        return None
    return {"level": _KLOG_LEVELS[level], "time": f"{year}-{month}-{day}T{clock}Z", "thread_id": int(thread),
            "source_file": source_file, "source_line": int(line), "msg": msg}


_RFC5424 = re.compile(r"(?:<(\d{1,3})>)?(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) "
                      r"(-|(?:\[(?:[^\]\\\"]|\\.|\"(?:[^\"\\]|\\.)*\")*\])+)"
                      r"(?: (?:\ufeff)?(.*))?", re.DOTALL)
# One SD-ELEMENT as written, well formed or not: brackets, with quoted values that may hold `]`.
_SD_CHUNK = re.compile(r'\[(?:[^\]\\"]|\\.|"(?:[^"\\]|\\.)*")*\]')
# A well-formed one; blanks around `=` are tolerated (syslog_loose and Vector accept them).
_SD_ELEMENT = re.compile(r'\[([^\s\]="]+)((?:\s+[^\s=\]"]+\s*=\s*"(?:[^"\\]|\\.)*")*)\s*\]')
_SD_PARAM = re.compile(r'([^\s=\]"]+)\s*=\s*"((?:[^"\\]|\\.)*)"')
MALFORMED_SD_ELEMENT = "malformed_sd_element"


def parse_rfc5424(text: str, anomalies: Counter[str] | None = None) -> dict[str, Any] | None:
    """`<165>1 2026-12-02T10:15:00Z host app 12 ID47 [id k="v"] msg`; `-` (nil) values are left out.
    As Vector's syslog_loose: the priority may be missing, blanks around the line are ignored, and an
    SD-ELEMENT that is not well formed (`[id x]`) is left out while the others are kept (counted in
    `anomalies` as MALFORMED_SD_ELEMENT)."""
    match = _RFC5424.match(text.strip())
    if match is None:
        return None
    pri, version, timestamp, hostname, appname, procid, msgid, data, msg = match.groups()
    fields = _priority(int(pri)) if pri is not None else {}
    if fields is None:
        return None
    fields["version"] = int(version)
    for key, value in (("time", timestamp), ("hostname", hostname), ("appname", appname), ("procid", procid),
                       ("msgid", msgid)):
        if value != "-":
            fields[key] = value
    if data != "-":
        elements, malformed = _structured_data(data)
        if malformed and anomalies is not None:
            anomalies[MALFORMED_SD_ELEMENT] += malformed
        if elements:
            fields["structured_data"] = elements
    if msg is not None:
        fields["msg"] = msg
    return fields


def _structured_data(data: str) -> tuple[dict[str, dict[str, str]], int]:
    """The well-formed SD-ELEMENTs of `data` (consecutive `[...]`) by SD-ID, and how many were not."""
    elements: dict[str, dict[str, str]] = {}
    malformed = 0
    for chunk in _SD_CHUNK.findall(data):
        element = _SD_ELEMENT.fullmatch(chunk)
        if element is None:
            malformed += 1
            continue
        elements[element[1]] = {key: _ESCAPE.sub(r"\1", value) for key, value in _SD_PARAM.findall(element[2])}
    return elements, malformed


def _leading_structured_data(text: str) -> tuple[dict[str, dict[str, str]], str] | None:
    """SD-ELEMENTs at the start of an RFC 3164 message (rsyslog writes its `[origin ...]` there) and the
    text after them; None unless every element there is well formed (then the text is all message)."""
    end = 0
    chunks = []
    while (chunk := _SD_CHUNK.match(text, end)) is not None:
        chunks.append(chunk[0])
        end = chunk.end()
    if not chunks or any(_SD_ELEMENT.fullmatch(chunk) is None for chunk in chunks):
        return None
    elements, _ = _structured_data("".join(chunks))
    return elements, text[end:].lstrip(" ")


_MONTHS = {name: i for i, name in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                            "Nov", "Dec"), start=1)}
# The priority (optional: files rsyslog writes have none), then the BSD time (`Jun  8`, `Jun 8`, `Jun 08`)
# or, as rsyslog's forwarding format writes it, an RFC 3339 time.
_RFC3164 = re.compile(r"(?:<(\d{1,3})>)? ?(?:([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d)"
                      r"|(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d))) +(.*)", re.DOTALL)
# TAG[PID]: the tag runs to a blank, `[` or `:`; the pid and the colon are optional (syslog_loose).
_TAG = re.compile(r"([^\s:\[\]]+)(?:\[([^\]]*)\])?:? *")


def parse_rfc3164(text: str) -> dict[str, Any] | None:
    """`<34>Dec  2 10:15:00 host sshd[42]: msg`, as Vector's syslog_loose reads it where RFC 3164 is loose:
    no priority (files rsyslog writes); a one-digit day with one blank; an RFC 3339 time (rsyslog's
    forwarding format; a BSD time is taken as UTC); no HOSTNAME when the token after the time ends with
    `:` (haproxy, anything writing to /dev/log: `haproxy[73411]: msg`); the tag's pid and colon optional;
    rsyslog's SD-ELEMENTs at the start of the message as `structured_data`."""
    match = _RFC3164.match(text.strip())
    if match is None:
        return None
    pri, month_name, day, clock, rfc3339, rest = match.groups()
    fields = _priority(int(pri)) if pri is not None else {}
    if fields is None:
        return None
    if rfc3339 is not None:
        fields["time"] = rfc3339
    else:
        month = _MONTHS.get(month_name)
        year = infer_year(month, int(day), time.time()) if month else None
        if year is None:
            return None
        fields["time"] = f"{year}-{month:02d}-{int(day):02d}T{clock}Z"
    first, _, after = rest.partition(" ")
    if not first.endswith(":"):
        fields["hostname"] = first
        rest = after.lstrip(" ")
    tag = _TAG.match(rest)
    if tag is not None:
        fields["appname"] = tag[1]
        if tag[2] is not None:
            fields["procid"] = tag[2]
        rest = rest[tag.end():]
    structured = _leading_structured_data(rest) if rest.startswith("[") else None
    if structured is not None:
        fields["structured_data"], rest = structured
    fields["msg"] = rest
    return fields


def _priority(pri: int) -> dict[str, Any] | None:
    facility, severity = divmod(pri, 8)
    if facility >= len(FACILITIES):
        return None
    return {"facility": FACILITIES[facility], "severity": SEVERITIES[severity]}


CountingParser = Callable[[str, "Counter[str] | None"], "dict[str, Any] | None"]
# Presets that count what they repair or leave out (in a Counter by kind) when given one.
COUNTING: dict[str, CountingParser] = {"syslog_rfc5424": parse_rfc5424}


def counted(parser: CountingParser, anomalies: Counter[str]) -> Parser:
    """`parser` counting into `anomalies`."""
    return lambda text: parser(text, anomalies)


PRESETS: dict[str, Parser] = {
    "json": parse_json,
    "logfmt": parse_logfmt,
    "klog": parse_klog,
    "nginx_combined": parse_combined,
    "apache_combined": parse_combined,
    "syslog_rfc5424": parse_rfc5424,
    "syslog_rfc3164": parse_rfc3164,
}

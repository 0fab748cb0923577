"""Records as RFC 5424 messages: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.

Header fields are printable US-ASCII cut to their RFC lengths (a space or control character becomes
`_`, an empty value the NILVALUE `-`); SD parameter values escape `"`, `\\` and `]` as the RFC says,
and CR and LF become spaces, so no field can end a newline-framed message early. The message is
UTF-8. Headers are rendered once per block unless a record carries a field a template names.

Headers never take more than half of `max_message_size`: longer structured-data values are cut
(then dropped, then the header fields cut) and counted, so every message keeps room for its text
and the framing can always make progress.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from shipper.record import FIELDS, NS, TIMESTAMP, Record, lookup
from shipper.severity import FACILITIES, LEVEL_NAMES, SEVERITIES, facility_number, severity_number
from shipper.sinks.syslog.config import SyslogOptions
from shipper.templates import MissingField, Template, field_path
from shipper.text import cut_utf8, utf8_size

NIL = "-"
NO_FIELDS: Mapping[str, Any] = {}
HEADER_LIMITS = {"hostname": 255, "app_name": 48, "procid": 128, "msgid": 32}
NOT_PRINTABLE = re.compile(r"[^\x21-\x7e]")
SD_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "]": "\\]", "\n": " ", "\r": " "})
STDERR_SEVERITY = SEVERITIES.index("err")
TIMESTAMP_SIZE = len("2026-01-01T00:00:00.000000Z")  # every year of a 64-bit nanosecond time has 4 digits


TABLE_SPAN = 3600  # seconds: a block's times within an hour share one table of second texts


def second_texts(values: list[int]) -> tuple[int, list[str]] | None:
    """For times of 19 digits (2001-2262) within `TABLE_SPAN`: the first second and the text of each
    second from it to the last (`YYYY-MM-DDTHH:MM:SS.`), so a time's text is
    `seconds[value // NS - first] + str(value)[10:16] + "Z"`: its microseconds are digits 10-15.
    None for any other times (the per-second set, slower, serves those)."""
    if not values:
        return None
    low, high = min(values), max(values)
    first, last = low // NS, high // NS
    if low < 10**18 or high >= 10**19 or last - first > TABLE_SPAN:
        return None
    return first, [time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)) for second in range(first, last + 1)]


def header_field(value: str, limit: int) -> str:
    cleaned = NOT_PRINTABLE.sub("_", value)[:limit]
    return cleaned or NIL


def sd_value(value: str) -> str:
    return value.translate(SD_ESCAPE)


def _size(fields: list[str], sd: str) -> int:
    """UTF-8 bytes of the headers joined by spaces (the fields are ASCII)."""
    return sum(map(len, fields)) + len(fields) + utf8_size(sd)


class Rfc5424:
    def __init__(self, options: SyslogOptions):
        self.facility = FACILITIES.index(options.facility)
        self.default_severity = SEVERITIES.index(options.severity)
        self.severity_path = field_path(options.severity_field) if options.severity_field else None
        self.facility_path = field_path(options.facility_field) if options.facility_field else None
        self.level_names = {**LEVEL_NAMES, **{name.lower(): SEVERITIES.index(severity)
                                              for name, severity in options.severity_map.items()}}
        self.header = {name: Template(getattr(options, name), options.layout) for name in HEADER_LIMITS}
        self.sd = {sd_id: {name: Template(t, options.layout) for name, t in params.items()}
                   for sd_id, params in options.structured_data.items()}
        templates = [*self.header.values(), *(t for p in self.sd.values() for t in p.values())]
        self.record_keys = {path[0] for template in templates for path in template.fields}
        self.message_in_headers = "message" in self.record_keys  # then headers change with every record
        self._second: int | None = None  # the second _second_text renders (None: none yet)
        self._second_text = ""
        self.header_limit = options.max_message_size // 2
        # records repaired, by kind: `header_truncated` (headers cut to fit header_limit), `unknown_severity`
        # and `unknown_facility` (a field that named none); taken and cleared by the sink
        self.anomalies: Counter[str] = Counter()

    def headers(self, common: Mapping[str, Any], record: Record) -> str:
        """`HOSTNAME APP-NAME PROCID MSGID SD` for a record (the part that often repeats in a block),
        at most `header_limit` bytes (see the module's docstring); `truncated` counts the cut ones."""
        fields = [header_field(self._render(t, common, record), HEADER_LIMITS[name]) for name, t in self.header.items()]
        sd = self._structured_data(common, record)
        if _size(fields, sd) > self.header_limit:
            fields, sd = self._shortened(fields, sd, common, record)
            self.anomalies["header_truncated"] += 1
        return " ".join((*fields, sd))

    def _shortened(self, fields: list[str], sd: str, common: Mapping[str, Any],
                   record: Record) -> tuple[list[str], str]:
        """Headers within `header_limit`: SD values halved until they fit, then SD left out, then the
        header fields cut (only a small max_message_size with long header fields gets there)."""
        limit, value_limit = self.header_limit, len(sd)
        while _size(fields, sd) > limit and sd != NIL:
            value_limit //= 2
            sd = self._structured_data(common, record, value_limit) if value_limit else NIL
        if _size(fields, sd) > limit:
            share = max(1, (limit - 5) // len(fields))
            fields = [field[:share] for field in fields]
        return fields, sd

    def per_record(self, record: Record) -> bool:
        """Whether this record's own fields change the headers (else the block's first headers hold)."""
        fields = record[FIELDS]
        return self.message_in_headers or (bool(fields) and not self.record_keys.isdisjoint(fields))

    def prefix(self, record: Record, headers: str, common: Mapping[str, Any] = NO_FIELDS) -> str:
        """`<PRI>1 TIMESTAMP ` + headers + ` `: everything before MSG."""
        return f"<{self.priority(record, common)}>1 {self.timestamp(record[TIMESTAMP])} {headers} "

    def priority(self, record: Record, common: Mapping[str, Any] = NO_FIELDS, records: int = 1) -> int:
        """PRI of a record (or of `records` records sharing its fields); values of `severity_field` and
        `facility_field` that stand for nothing are counted per record."""
        facility = self.facility
        if self.facility_path is not None:
            value = lookup(common, record, self.facility_path)
            found = facility_number(value) if value is not None else None
            if found is not None:
                facility = found
            elif value is not None:
                self.anomalies["unknown_facility"] += records
        if self.severity_path is not None:
            value = lookup(common, record, self.severity_path)
            if value is not None:
                severity = severity_number(value, self.level_names)
                if severity is not None:
                    return facility * 8 + severity
                self.anomalies["unknown_severity"] += records
                return facility * 8 + self.default_severity
        return facility * 8 + self.severity(record)

    def severity(self, record: Record) -> int:
        """A record's severity by the default rules: its `severity` field, err for stderr, else `severity`."""
        fields = record[FIELDS]
        if not fields:
            return self.default_severity
        severity = fields.get("severity")
        if isinstance(severity, int) and 0 <= severity <= 7:
            return severity
        if isinstance(severity, str) and severity in SEVERITIES:
            return SEVERITIES.index(severity)
        return STDERR_SEVERITY if fields.get("stream") == "stderr" else self.default_severity

    def timestamp(self, timestamp_ns: int) -> str:
        seconds, nanos = divmod(timestamp_ns, 1_000_000_000)
        if seconds != self._second:
            self._second = seconds
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return f"{self._second_text}.{nanos // 1000:06d}Z"

    def timestamps(self, values: list[int]) -> list[str]:
        """`timestamp` of each value (a block's times: each second's text is made once)."""
        table = second_texts(values)
        if table:
            first, seconds = table
            return [f"{seconds[value // NS - first]}{str(value)[10:16]}Z" for value in values]
        texts = {second: time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
                 for second in {value // NS for value in values}}
        return [f"{texts[value // NS]}{value // 1000 % 1_000_000:06d}Z" for value in values]

    def _structured_data(self, common: Mapping[str, Any], record: Record, value_limit: int | None = None) -> str:
        elements = []
        for sd_id, params in self.sd.items():
            rendered = [(name, self._render(t, common, record, missing="")) for name, t in params.items()]
            if value_limit is not None:
                rendered = [(name, cut_utf8(value, value_limit)[0]) for name, value in rendered]
            pairs = "".join(f' {name}="{sd_value(value)}"' for name, value in rendered if value)
            elements.append(f"[{sd_id}{pairs}]")
        return "".join(elements) or NIL

    @staticmethod
    def _render(template: Template, common: Mapping[str, Any], record: Record, missing: str = NIL) -> str:
        try:
            return template.render(lambda path: lookup(common, record, path))
        except MissingField:
            return missing

"""Records as RFC 5424 messages: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.

Header fields are printable US-ASCII cut to their RFC lengths (a space or control character becomes
`_`, an empty value the NILVALUE `-`); SD parameter values escape `"`, `\\` and `]`; the message is
UTF-8. Headers are rendered once per block unless a record carries a field a template names.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from shipper.record import FIELDS, TIMESTAMP, Record, lookup
from shipper.sinks.syslog.config import FACILITIES, SEVERITIES, SyslogSink
from shipper.templates import MissingField, Template

NIL = "-"
HEADER_LIMITS = {"hostname": 255, "app_name": 48, "procid": 128, "msgid": 32}
NOT_PRINTABLE = re.compile(r"[^\x21-\x7e]")
SD_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "]": "\\]"})
STDERR_SEVERITY = SEVERITIES.index("err")


def header_field(value: str, limit: int) -> str:
    cleaned = NOT_PRINTABLE.sub("_", value)[:limit]
    return cleaned or NIL


def sd_value(value: str) -> str:
    return value.translate(SD_ESCAPE)


class Rfc5424:
    def __init__(self, options: SyslogSink):
        self.facility = FACILITIES.index(options.facility)
        self.default_severity = SEVERITIES.index(options.severity)
        self.header = {name: Template(getattr(options, name)) for name in HEADER_LIMITS}
        self.sd = {sd_id: {name: Template(t) for name, t in params.items()}
                   for sd_id, params in options.structured_data.items()}
        templates = [*self.header.values(), *(t for p in self.sd.values() for t in p.values())]
        self.record_keys = {path[0] for template in templates for path in template.fields}
        self._second = -1
        self._second_text = ""

    def headers(self, common: Mapping[str, Any], record: Record) -> str:
        """`HOSTNAME APP-NAME PROCID MSGID SD` for a record (the part that often repeats in a block)."""
        parts = [header_field(self._render(t, common, record), HEADER_LIMITS[name]) for name, t in self.header.items()]
        parts.append(self._structured_data(common, record))
        return " ".join(parts)

    def per_record(self, record: Record) -> bool:
        """Whether this record's own fields change the headers (else the block's first headers hold)."""
        fields = record[FIELDS]
        return bool(fields) and not self.record_keys.isdisjoint(fields)

    def prefix(self, record: Record, headers: str) -> str:
        """`<PRI>1 TIMESTAMP ` + headers + ` `: everything before MSG."""
        pri = self.facility * 8 + self.severity(record)
        return f"<{pri}>1 {self.timestamp(record[TIMESTAMP])} {headers} "

    def severity(self, record: Record) -> int:
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

    def _structured_data(self, common: Mapping[str, Any], record: Record) -> str:
        elements = []
        for sd_id, params in self.sd.items():
            rendered = [(name, self._render(t, common, record, missing="")) for name, t in params.items()]
            pairs = "".join(f' {name}="{sd_value(value)}"' for name, value in rendered if value)
            elements.append(f"[{sd_id}{pairs}]")
        return "".join(elements) or NIL

    @staticmethod
    def _render(template: Template, common: Mapping[str, Any], record: Record, missing: str = NIL) -> str:
        try:
            return template.render(lambda path: lookup(common, record, path))
        except MissingField:
            return missing

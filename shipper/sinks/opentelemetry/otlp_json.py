"""OTLP's logs messages in OTLP/JSON: the protobuf messages in proto3's JSON mapping, with the
OTLP specification's differences (field names in lowerCamelCase only, enums as integers, 64-bit
integers as decimal strings, trace and span ids in hex). The same values as protobuf.py writes, a
record's parts joined as bytes (tests/sinks/opentelemetry/ parse both with opentelemetry-proto and
compare)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Any

import orjson

from shipper.buffer.columns import storable_text
from shipper.sinks.opentelemetry.protobuf import INT64_MAX, INT64_MIN, MAX_NESTING


def any_value(value: Any, depth: int = 0) -> Any:
    """The AnyValue of a JSON value, as a Python value orjson writes (see protobuf.any_value)."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        return {"intValue": str(value)} if INT64_MIN <= value <= INT64_MAX else {"stringValue": str(value)}
    if kind is float:
        return {"doubleValue": value if math.isfinite(value) else
                ("NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity")}
    if value is None:
        return {}
    if depth >= MAX_NESTING:
        return {"stringValue": storable_text(value)}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value.items(), depth + 1)}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(item, depth + 1) for item in value]}}
    return {"stringValue": str(value)}


def key_values(pairs: Iterable[tuple[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    return [{"key": str(name), "value": any_value(value, depth)} for name, value in pairs]


def attributes(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """`,"attributes":[...]` of a LogRecord, or nothing for no pairs (shared by a mapping's records)."""
    values = key_values(pairs)
    return b',"attributes":' + orjson.dumps(values) if values else b""


def severity_fields(number: int, label: str) -> bytes:
    return (b',"severityNumber":%d' % number if number else b"") + \
        (b',"severityText":' + orjson.dumps(label) if label else b"")


def log_record(time_ns: int, observed_ns: int, severity: bytes, body: str, attributes_part: bytes) -> bytes:
    """One LogRecord object; `severity` and `attributes_part` as severity_fields and attributes give them."""
    return b'{"timeUnixNano":"%d","observedTimeUnixNano":"%d"%s,"body":{"stringValue":%s}%s}' % (
        max(0, time_ns), max(0, observed_ns), severity, orjson.dumps(body), attributes_part)


def log_records(times: list[int], observed_ns: int, messages: list[str], severities: list[bytes],
                attributes_parts: list[bytes]) -> list[bytes]:
    """`log_record` of each record of a block, made by C-level maps over its columns."""
    stamps = "\n".join(map(str, map(max, times, repeat(0)))).encode().split(b"\n") if times else []
    observed = b'","observedTimeUnixNano":"%d"' % max(0, observed_ns)
    return list(map(b"".join, zip(
        repeat(b'{"timeUnixNano":"'), stamps, repeat(observed), severities, repeat(b',"body":{"stringValue":'),
        map(orjson.dumps, messages), repeat(b"}"), attributes_parts, repeat(b"}"))))


def resource_part(attributes_of: Mapping[str, Any]) -> bytes:
    """A Resource object of these attributes."""
    return orjson.dumps({"attributes": key_values(attributes_of.items())})


def resource_logs(resource: bytes, scope_name: str, scope_version: str, records: list[bytes]) -> bytes:
    scope = orjson.dumps({"name": scope_name, "version": scope_version})
    return b'{"resource":%s,"scopeLogs":[{"scope":%s,"logRecords":[%s]}]}' % (resource, scope, b",".join(records))


def export_request(resources: Iterable[bytes]) -> bytes:
    return b'{"resourceLogs":[' + b",".join(resources) + b"]}"

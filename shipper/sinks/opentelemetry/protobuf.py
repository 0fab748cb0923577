"""OTLP's logs messages in the protobuf wire format, written directly (no generated classes).

The messages and their field numbers are those of opentelemetry-proto (logs/v1/logs.proto,
common/v1/common.proto, resource/v1/resource.proto, collector/logs/v1/logs_service.proto); what this
writes parses with the project's own definitions (tests/sinks/opentelemetry/ hold the two equal on
any value). Written by hand because a record is a few fields whose bytes are mostly shared: the
attributes of a fields mapping are encoded once for every record that shares it, and a record costs
two fixed64s, a varint and its body; generated message classes would cost a Python object a field.

Wire format (protobuf encoding guide): a field is its key (`number << 3 | wire type`, a varint) then
a varint (type 0), 8 little-endian bytes (type 1), or a varint length and that many bytes (type 2).
Negative int64s are 10-byte varints (two's complement), as protobuf writes them.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterable, Iterator, Mapping
from itertools import repeat
from typing import Any

from shipper import kernels
from shipper.buffer.columns import storable_text

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Arrays and maps nested deeper than this are sent as their JSON text: each level is two messages
# (AnyValue, then ArrayValue or KeyValueList) under the six of a record's attribute, and receivers
# refuse a request nested past 100 messages (upb's and Java's limit).
MAX_NESTING = 32
_DOUBLE = struct.Struct("<d").pack
_FIXED64 = struct.Struct("<Q").pack


def varint(value: int) -> bytes:
    """`value` (0 <= value < 2**64) as a base-128 varint, least significant group first."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def text(number: int, value: str) -> bytes:
    """A string field; `value` must be valid Unicode (the spool repairs lone surrogates before)."""
    return length_delimited(number, value.encode())


def fixed64(number: int, value: int) -> bytes:
    return key(number, 1) + _FIXED64(value)


# AnyValue's oneof (common.proto): string_value 1, bool_value 2, int_value 3, double_value 4, array_value 5,
# kvlist_value 6, bytes_value 7. ArrayValue and KeyValueList hold their elements in field 1; KeyValue is
# key 1, value 2.
def any_value(value: Any, depth: int = 0) -> bytes:
    """The AnyValue message of a JSON value: text, bool, int64, double, array, map; None is an empty
    AnyValue (no value set). An integer past int64 is its text, and so is an array or map nested
    past MAX_NESTING levels (its JSON)."""
    kind = type(value)
    if kind is str:
        return text(1, value)
    if kind is bool:
        return key(2, 0) + (b"\x01" if value else b"\x00")
    if kind is int:
        if INT64_MIN <= value <= INT64_MAX:
            return key(3, 0) + varint(value & 0xFFFF_FFFF_FFFF_FFFF)
        return text(1, str(value))
    if kind is float:
        return key(4, 1) + _DOUBLE(value)
    if value is None:
        return b""
    if depth >= MAX_NESTING:
        return text(1, storable_text(value))
    if isinstance(value, Mapping):
        return length_delimited(6, key_values(value.items(), depth + 1))
    if isinstance(value, list | tuple):
        return length_delimited(5, b"".join(length_delimited(1, any_value(item, depth + 1)) for item in value))
    return text(1, str(value))


def key_value(name: str, value: Any, depth: int = 0) -> bytes:
    return text(1, name) + length_delimited(2, any_value(value, depth))


def key_values(pairs: Iterable[tuple[str, Any]], depth: int = 0) -> bytes:
    """Repeated KeyValue in field 1 (KeyValueList.values, Resource.attributes) of `pairs`."""
    return b"".join(length_delimited(1, key_value(str(name), value, depth)) for name, value in pairs)


def attributes(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """LogRecord.attributes (field 6) of `pairs`."""
    return b"".join(length_delimited(6, key_value(str(name), value)) for name, value in pairs)


# LogRecord (logs.proto): time_unix_nano 1 (fixed64), severity_number 2, severity_text 3, body 5, attributes 6,
# observed_time_unix_nano 11 (fixed64). In a ScopeLogs, each is field 2.
_TIME, _OBSERVED, _BODY, _STRING, _IN_SCOPE = key(1, 1), key(11, 1), key(5, 2), key(1, 2), key(2, 2)
_SMALL = [varint(n) for n in range(1 << 14)]  # the varints of every length below 16 KiB: one lookup each
_FIXED_PARTS = len(_TIME) + 8 + len(_OBSERVED) + 8 + len(_BODY) + len(_STRING)


def log_record(time_ns: int, observed_ns: int, severity: bytes, body: str, attributes_part: bytes) -> bytes:
    """One LogRecord as a ScopeLogs holds it (its key and length first). `severity` is
    `severity_fields`'s bytes; `attributes_part` is `attributes`' bytes (shared by the records of one
    fields mapping). A time before 1970 is 0, which OTLP reads as unknown (its times are unsigned)."""
    text_part = length_delimited(1, body.encode())
    record = b"".join((_TIME, _FIXED64(max(0, time_ns)), _OBSERVED, _FIXED64(max(0, observed_ns)), severity,
                       length_delimited(5, text_part), attributes_part))
    return length_delimited(2, record)


def log_records(times: list[int], observed_ns: int, messages: list[str], severities: list[bytes],
                attributes_parts: list[bytes]) -> list[bytes]:
    """`log_record` of each record of a block, without a Python step per record: by the otlp kernel,
    else its parts made by C-level maps over the block's columns (tests/sinks/opentelemetry/ and
    tests/kernels/test_otlp.py hold the three equal)."""
    if kernels.otlp is not None:
        made: list[bytes] | None = kernels.otlp.log_records(times, observed_ns, messages, severities, attributes_parts)
        if made is not None:
            return made
    texts = list(map(str.encode, messages))
    sizes = list(map(len, texts))
    observed = _OBSERVED + _FIXED64(max(0, observed_ns))
    extras = list(map(operator.add, map(len, severities), map(len, attributes_parts)))
    small = not sizes or max(sizes) + max(extras) < (1 << 14) - 40  # then every length below has one in _SMALL
    size_of = _SMALL.__getitem__ if small else varint
    text_heads = list(map(size_of, sizes))
    any_sizes = list(map(operator.add, map(len, text_heads), map(operator.add, sizes, repeat(len(_STRING)))))
    any_heads = list(map(size_of, any_sizes))
    record_sizes = map(operator.add, map(operator.add, any_sizes, map(len, any_heads)),
                       map(operator.add, extras, repeat(_FIXED_PARTS - len(_STRING))))
    return list(map(b"".join, zip(
        repeat(_IN_SCOPE), map(size_of, record_sizes), repeat(_TIME), map(_FIXED64, map(max, times, repeat(0))),
        repeat(observed), severities, repeat(_BODY), any_heads, repeat(_STRING), text_heads, texts,
        attributes_parts)))


def severity_fields(number: int, label: str) -> bytes:
    """severity_number (2) and severity_text (3); either left out when 0 or empty, as protobuf does."""
    return (key(2, 0) + varint(number) if number else b"") + (text(3, label) if label else b"")


def resource_part(attributes_of: Mapping[str, Any]) -> bytes:
    """A Resource message (attributes 1) of these attributes."""
    return key_values(attributes_of.items())


def resource_logs(resource: bytes, scope_name: str, scope_version: str, records: list[bytes]) -> bytes:
    """A ResourceLogs message (resource 1, scope_logs 2) holding one ScopeLogs (scope 1, then the
    records as `log_record` gives them)."""
    scope = text(1, scope_name) + text(2, scope_version)
    scope_logs = length_delimited(1, scope) + b"".join(records)
    return length_delimited(1, resource) + length_delimited(2, scope_logs)


def export_request(resources: Iterable[bytes]) -> bytes:
    """ExportLogsServiceRequest (resource_logs 1) of ResourceLogs messages."""
    return b"".join(length_delimited(1, resource) for resource in resources)


class Malformed(ValueError):
    """Bytes that are not the message the receiver should have answered."""


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise Malformed("a varint runs past the end or past 64 bits")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(number, wire type, value) of each field of a message; Malformed if it is not one."""
    at = 0
    while at < len(data):
        tag, at = _read_varint(data, at)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, at = _read_varint(data, at)
            yield number, wire_type, value
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            if at + size > len(data):
                raise Malformed("a fixed field runs past the end")
            yield number, wire_type, int.from_bytes(data[at:at + size], "little")
            at += size
        elif wire_type == 2:
            length, at = _read_varint(data, at)
            if at + length > len(data):
                raise Malformed("a field runs past the end")
            yield number, wire_type, data[at:at + length]
            at += length
        else:
            raise Malformed(f"wire type {wire_type}")


def partial_success(answer: bytes) -> tuple[int, str]:
    """(rejected_log_records, error_message) of an ExportLogsServiceResponse (partial_success 1:
    rejected_log_records 1, error_message 2); (0, "") when it has none. Malformed otherwise."""
    rejected, message = 0, ""
    for number, wire_type, value in _fields(answer):
        if number == 1 and wire_type == 2 and isinstance(value, bytes):
            for inner, inner_type, part in _fields(value):
                if inner == 1 and inner_type == 0 and isinstance(part, int):
                    rejected = part - (1 << 64) if part >= 1 << 63 else part
                elif inner == 2 and inner_type == 2 and isinstance(part, bytes):
                    message = part.decode("utf-8", "replace")
    return rejected, message

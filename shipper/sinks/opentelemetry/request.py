"""Request bodies: the spool's records as OTLP log records, cut into batches within `max_batch_events`
and `max_batch_bytes`, each batch knowing the spool position after its last record.

A record is its LogRecord's bytes (protobuf or JSON, as `encoding` says), with the bytes of its
resource beside it; a body groups a batch's records under one ResourceLogs per distinct resource, in
the order they first appear. What a record shares with the others of its block (its resource; its
attributes and severity, per fields mapping) is encoded once per block and mapping, not per record.
"""

from __future__ import annotations

import gzip
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipper import __version__
from shipper.buffer.spool import Position, StoredBlock
from shipper.layouts import otel_attributes
from shipper.record import lookup
from shipper.severity import SEVERITIES, otel_severity
from shipper.sinks.cutting import BatchCutter
from shipper.sinks.opentelemetry import otlp_json, protobuf
from shipper.sinks.opentelemetry.resource import resource_of

GZIP_LEVEL = 6
SCOPE = "shipper"  # the instrumentation scope every record is sent under: the agent that read it


@dataclass(slots=True)
class Batch:
    runs: list[tuple[bytes, list[bytes]]] = field(default_factory=list)  # (resource, its records), in order
    end: Position = field(default_factory=lambda: Position(0, 0))
    first_time: float = 0.0
    last_time: float = 0.0
    events: int = 0
    resources: set[bytes] = field(default_factory=set)
    size: int = 0  # bytes of the records and of each distinct resource once, before compression
    unencodable: int = 0  # never: every record the spool holds has an OTLP form

    @property
    def items(self) -> list[tuple[bytes, bytes]]:
        return [(resource, record) for resource, records in self.runs for record in records]

    def add(self, resource: bytes, records: list[bytes], size: int) -> None:
        if resource not in self.resources:
            self.resources.add(resource)
            self.size += len(resource)
        if self.runs and self.runs[-1][0] == resource:
            self.runs[-1][1].extend(records)
        else:
            self.runs.append((resource, list(records)))
        self.events += len(records)
        self.size += size

    def halves(self) -> tuple[Batch, Batch] | None:
        """Two batches of half the records each (a receiver refused the whole as too large)."""
        if self.events < 2:
            return None
        items, middle = self.items, self.events // 2
        halves = Batch(end=self.end, first_time=self.first_time, last_time=self.last_time), \
            Batch(end=self.end, first_time=self.first_time, last_time=self.last_time)
        for half, part in zip(halves, (items[:middle], items[middle:]), strict=True):
            for resource, record in part:
                half.add(resource, [record], len(record))
        return halves


class RequestBuilder(BatchCutter[tuple[bytes, list[bytes]], Batch]):
    """Cuts what the sink reads into batches (cutting.py); a batch pays for each distinct resource once."""

    def __init__(self, encoding: str, compression: str, max_bytes: int, max_events: int,
                 resource_attributes: Mapping[str, str], severity_field: tuple[str, ...] | None):
        super().__init__(max_bytes, max_events)
        self.codec = protobuf if encoding == "protobuf" else otlp_json
        self.encoding, self.compression = encoding, compression
        self.content_type = "application/x-protobuf" if encoding == "protobuf" else "application/json"
        self.overrides, self.severity_path = dict(resource_attributes), severity_field or ("severity",)

    def encode(self, block: StoredBlock) -> tuple[tuple[bytes, list[bytes]], list[int]]:
        resource, records = self.encoded(block, time.time_ns())
        return (resource, records), list(itertools.accumulate(map(len, records)))

    def new_batch(self, first_time: float) -> Batch:
        return Batch(first_time=first_time)

    def joining(self, batch: Batch, made: tuple[bytes, list[bytes]]) -> int:
        return 0 if made[0] in batch.resources else len(made[0])

    def put(self, batch: Batch, made: tuple[bytes, list[bytes]], start: int, stop: int, size: int) -> None:
        batch.add(made[0], made[1][start:stop], size)

    def encoded(self, block: StoredBlock, observed_ns: int) -> tuple[bytes, list[bytes]]:
        """The block's resource and each record from its start, encoded."""
        common, start = block.common, block.start
        fields = block.fields[start:]
        distinct = dict(zip(map(id, fields), fields, strict=True))  # records share mappings: one each
        shared = {key: self._shared_parts(common, own) for key, own in distinct.items()}
        parts = list(map(shared.__getitem__, map(id, fields)))
        return self.codec.resource_part(resource_of(common, self.overrides)), self.codec.log_records(
            block.timestamps[start:], observed_ns, block.messages[start:], [severity for severity, _ in parts],
            [attributes for _, attributes in parts])

    def _shared_parts(self, common: Mapping[str, Any], own: Any) -> tuple[bytes, bytes]:
        """(severity, attributes) of the records with fields `own`."""
        value = lookup(common, (0, "", own), self.severity_path)
        number = otel_severity(value) if value is not None else None
        label = value if isinstance(value, str) else SEVERITIES[value] if type(value) is int and 0 <= value <= 7 else ""
        return (self.codec.severity_fields(number or 0, label if number else ""),
                self.codec.attributes(otel_attributes(common, own if isinstance(own, Mapping) else None).items()))

    def body(self, batch: Batch) -> bytes:
        grouped: dict[bytes, list[bytes]] = {}
        for resource, records in batch.runs:
            grouped.setdefault(resource, []).extend(records)
        codec = self.codec
        body = codec.export_request([codec.resource_logs(resource, SCOPE, __version__, records)
                                     for resource, records in grouped.items()])
        return gzip.compress(body, GZIP_LEVEL, mtime=0) if self.compression == "gzip" else body

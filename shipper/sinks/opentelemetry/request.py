"""Request bodies: the spool's records as OTLP log records, cut into batches within `max_batch_events`
and `max_batch_bytes`, each batch knowing the spool position after its last record.

A record is its LogRecord's bytes (protobuf or JSON, as `encoding` says), with the bytes of its
resource beside it; a body groups a batch's records under one ResourceLogs per distinct resource, in
the order they first appear. What a record shares with the others of its block (its resource; its
attributes and severity, per fields mapping) is encoded once per block and mapping, not per record.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipper import __version__
from shipper.buffer.spool import Position, StoredBlock
from shipper.layouts import otel_attributes
from shipper.record import lookup
from shipper.severity import SEVERITIES, otel_severity
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


class RequestBuilder:
    """Cuts what the sink reads into batches; the last batch stays open until full or taken."""

    def __init__(self, encoding: str, compression: str, max_bytes: int, max_events: int,
                 resource_attributes: Mapping[str, str], severity_field: tuple[str, ...] | None):
        self.codec = protobuf if encoding == "protobuf" else otlp_json
        self.encoding, self.compression = encoding, compression
        self.content_type = "application/x-protobuf" if encoding == "protobuf" else "application/json"
        self.max_bytes, self.max_events = max_bytes, max_events
        self.overrides, self.severity_path = dict(resource_attributes), severity_field or ("severity",)
        self._open: Batch | None = None
        self.opened_at = 0.0

    @property
    def holding(self) -> bool:
        return self._open is not None

    def add(self, blocks: list[StoredBlock], now: float) -> Iterator[Batch]:
        """The batches `blocks` fill, in spool order; the rest stays in the open batch. A block's
        records are encoded together and cut where the limits fall (sizes summed and searched in C)."""
        for block in blocks:
            resource, records = self.encoded(block, time.time_ns())
            ends = list(itertools.accumulate(map(len, records)))
            stamps, first, done = block.timestamps, block.start, 0
            while done < len(records):
                batch = self._open
                if batch is None:
                    batch = self._open = Batch(first_time=stamps[first + done] / 1e9)
                    self.opened_at = now
                taken = self._fitting(batch, resource, ends, done)
                if taken == 0:
                    yield batch
                    self._open = None
                    continue
                before = ends[done - 1] if done else 0
                batch.add(resource, records[done:done + taken], ends[done + taken - 1] - before)
                done += taken
                batch.end = Position(block.id, first + done)
                batch.last_time = stamps[first + done - 1] / 1e9
                if batch.events >= self.max_events:
                    yield batch
                    self._open = None

    def _fitting(self, batch: Batch, resource: bytes, ends: list[int], start: int) -> int:
        """How many records from `start` the batch takes within both limits (at least one when it is
        empty: a record alone larger than `max_batch_bytes` goes alone)."""
        joining = 0 if resource in batch.resources else len(resource)
        before = ends[start - 1] if start else 0
        stop = min(len(ends), start + self.max_events - batch.events)
        fitting = bisect.bisect_right(ends, before + self.max_bytes - batch.size - joining, start, stop) - start
        return fitting if fitting or batch.events else min(1, len(ends) - start)

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

    def take(self) -> Batch | None:
        batch, self._open = self._open, None
        return batch

    def body(self, batch: Batch) -> bytes:
        grouped: dict[bytes, list[bytes]] = {}
        for resource, records in batch.runs:
            grouped.setdefault(resource, []).extend(records)
        codec = self.codec
        body = codec.export_request([codec.resource_logs(resource, SCOPE, __version__, records)
                                     for resource, records in grouped.items()])
        return gzip.compress(body, GZIP_LEVEL, mtime=0) if self.compression == "gzip" else body

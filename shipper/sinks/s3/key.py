"""Where a record goes and what its object is called: the partition (the values of the fields `key`
names) and, once an object is closed, its key.

An object's key holds its partition, the time of its first record and a UUID derived from its first
record's spool position and an identity the sink draws at each start: no two nodes, and no two runs
of one, name two objects alike. An object sent again after a crash takes the key its ledger row
recorded (objects.py), so it replaces itself.

Field values come from records, so from anyone who writes a log line or labels a pod: control
characters (which S3 lists only URL-encoded, and which break the tools that read keys as paths) become
`_`, each value is cut to MAX_VALUE_CHARS, and a key past S3's 1,024 bytes has its field values cut
again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from shipper.buffer.spool import Position, StoredBlock
from shipper.record import lookup
from shipper.sinks.s3.config import UUID_FIELD
from shipper.templates import Template, varies_per_record
from shipper.text import utf8_size, valid_text

MISSING = "_unknown"  # a field a record lacks, in its key
MAX_VALUE_CHARS = 128
MAX_KEY_BYTES = 1024  # S3's limit on a key, in UTF-8 bytes
_CONTROL = str.maketrans({code: "_" for code in [*range(0x20), 0x7F]})

Partition = tuple[str, ...]  # the values of the key's fields, in the template's order


class ObjectKeys:
    def __init__(self, template: str, layout: str, identity: uuid.UUID):
        self.template = Template(template, layout)
        self.fields = [path for path in self.template.fields if path != UUID_FIELD]
        self._roots = frozenset(path[0] for path in self.fields)
        self.identity = identity
        self.fallbacks = 0  # records given MISSING for a field, since last read

    def of_block(self, block: StoredBlock) -> list[Partition] | Partition:
        """One partition for the whole block when no record has a field of its own the key names, else
        one per record (from the block's start)."""
        if varies_per_record(self._roots, block.fields[block.start:]):
            return [self._partition(block.common, block.record(i)) for i in range(block.start, len(block.messages))]
        return self._partition(block.common, block.record(block.start))

    def _partition(self, common: Mapping[str, Any], record: Any) -> Partition:
        values = []
        for path in self.fields:
            value = lookup(common, record, path)
            if value is None or value == "":
                self.fallbacks += 1
                values.append(MISSING)
            else:
                text = valid_text(value if isinstance(value, str) else str(value))[:MAX_VALUE_CHARS]
                values.append(text.translate(_CONTROL))
        return tuple(values)

    def key(self, partition: Partition, first: Position, first_time_ns: int) -> str:
        """The key of the object of `partition` whose first record is at `first`, written at `first_time_ns`."""
        moment = time.gmtime(first_time_ns // 1_000_000_000)
        object_id = str(uuid.uuid5(self.identity, f"{first.block}:{first.index}"))
        values = list(partition)
        while True:
            text = self._render(values, object_id, moment)
            if utf8_size(text) <= MAX_KEY_BYTES or not any(values):
                return text
            values = [value[: len(value) // 2] for value in values]

    def _render(self, values: list[str], object_id: str, moment: time.struct_time) -> str:
        out, given = [], iter(values)
        for part in self.template.parts:
            if isinstance(part, str):
                out.append(time.strftime(part, moment) if "%" in part else part)
            else:
                out.append(object_id if part == UUID_FIELD else next(given))
        return "".join(out)

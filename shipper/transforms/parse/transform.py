"""`parse`: each record's field text through one parser, compiled once; the parsed fields are merged
into a copy of the record's fields (records may share their fields mapping, so it is never changed in
place); fields the record already has (a container's `stream`) keep their values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipper.observe import metrics
from shipper.record import FIELDS, MESSAGE, Block, Record, lookup, set_aside_reserved
from shipper.templates import field_path
from shipper.transforms.base import SingleOutput
from shipper.transforms.parse.config import ParseOptions
from shipper.transforms.parse.formats import PRESETS, Parser, regex_parser
from shipper.transforms.parse.timestamps import time_parser


class Parse(SingleOutput):
    def __init__(self, transform_id: str, options: ParseOptions):
        super().__init__(transform_id, options)
        self.parser: Parser = regex_parser(options.pattern) if options.pattern else PRESETS[options.format]
        self.path = field_path(options.field) or ("message",)
        self.target = options.target
        self.time_path = field_path(options.time_key) if options.time_key else None
        self.parse_time = time_parser(options.time_format)
        self.unparsed = metrics.events_unparsed.labels(*self.labels, "format")
        self.untimed = metrics.events_unparsed.labels(*self.labels, "time")

    def apply(self, block: Block) -> Block:
        common = block.common
        records: list[Record] = []
        unparsed = untimed = 0
        from_message = self.path == ("message",)
        for record in block.records:
            text = record[MESSAGE] if from_message else lookup(common, record, self.path)
            parsed = self.parser(text) if isinstance(text, str) else None
            if parsed is None:
                unparsed += 1
                records.append(record)
                continue
            timestamp = record[0]
            if self.time_path is not None:
                parsed_time = self.parse_time(_get(parsed, self.time_path))
                if parsed_time is None:
                    untimed += 1
                else:
                    timestamp = parsed_time
            records.append((timestamp, record[MESSAGE], self._merged(record[FIELDS], parsed)))
        if unparsed:
            self.unparsed.inc(unparsed)
        if untimed:
            self.untimed.inc(untimed)
        return Block(self.id, common, records)

    def _merged(self, fields: Mapping[str, Any] | None, parsed: dict[str, Any]) -> dict[str, Any]:
        if self.target is not None:
            return {**fields, self.target: parsed} if fields else {self.target: parsed}
        parsed = set_aside_reserved(parsed)
        return {**parsed, **fields} if fields else parsed


def _get(parsed: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = parsed
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value

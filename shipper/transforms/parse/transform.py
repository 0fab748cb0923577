"""`parse`: each record's field text through one parser, compiled once; the parsed fields are merged
into a copy of the record's fields (records may share their fields mapping, so it is never changed in
place); fields the record already has (a container's `stream`) keep their values.

`format: json`, `logfmt`, `nginx_combined` and `apache_combined` of the message, when no other transform reads
this one's output (only the spool does), run on a compiled kernel (kernels/_parse.c) where it is built:
each parsed record's fields are made as the JSON text the spool stores (bytes), never as Python
objects. The spool reads that text back as the very mapping the reference below makes
(tests/kernels/test_parse.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from shipper import kernels
from shipper.observe import metrics
from shipper.parsers import COUNTING, PRESETS, Parser, counted, merged, regex_parser
from shipper.record import FIELDS, MESSAGE, RESERVED, TIMESTAMP, Block, Record, dig, lookup
from shipper.templates import field_path
from shipper.times import time_parser
from shipper.transforms.base import SingleOutput
from shipper.transforms.parse.config import ParseOptions

RESERVED_NAMES = tuple(name.encode() for name in sorted(RESERVED))


class Parse(SingleOutput):
    def __init__(self, transform_id: str, options: ParseOptions):
        super().__init__(transform_id, options)
        self.anomalies: Counter[str] = Counter()  # what a parser repaired or left out, by kind
        self.parser: Parser = (regex_parser(options.pattern) if options.pattern
                               else counted(COUNTING[options.format], self.anomalies)
                               if options.format in COUNTING else PRESETS[options.format])
        self.path = field_path(options.field) or ("message",)
        self.target = options.target
        self.time_path = field_path(options.time_key) if options.time_key else None
        self.parse_time = time_parser(options.time_format)
        self.unparsed = metrics.events_unparsed.labels(*self.labels, "format")
        self.untimed = metrics.events_unparsed.labels(*self.labels, "time")
        self.kernel_arguments = self._kernel_arguments(options)

    def _kernel_arguments(self, options: ParseOptions) -> tuple[Any, ...] | None:
        """The kernel for this format and what it is called with besides the records; None where none
        applies."""
        if (kernels.parse is None or self.path != ("message",) or options.pattern is not None
                or (self.time_path is not None and len(self.time_path) != 1)):
            return None
        if options.format == "json":
            kernel = kernels.parse.json_objects
        elif options.format == "logfmt":
            kernel = kernels.parse.logfmt_pairs
        elif options.format in ("nginx_combined", "apache_combined") and RESERVED.isdisjoint(
                kernels.parse.COMBINED_NAMES):
            kernel = kernels.parse.combined_logs
        else:
            return None
        target = orjson.dumps(self.target) + b":" if self.target is not None else None
        time_key = self.time_path[0].encode() if self.time_path is not None else None
        return (kernel, stored_members, None if target else RESERVED_NAMES, target, time_key, self.parse_time)

    def apply(self, block: Block) -> Block:
        if self.stored_only and self.kernel_arguments is not None:
            records, unparsed, untimed = self._parsed_compiled(block)
        else:
            records, unparsed, untimed = self._parsed(block)
        if unparsed:
            self.unparsed.inc(unparsed)
        if untimed:
            self.untimed.inc(untimed)
        if self.anomalies:
            for kind, count in self.anomalies.items():
                metrics.input_anomalies.labels(*self.labels, kind).inc(count)
            self.anomalies.clear()
        return Block(self.id, block.common, records)

    def _parsed_compiled(self, block: Block) -> tuple[list[Record], int, int]:
        """The kernel's records; those it hands back go through the reference."""
        assert self.kernel_arguments is not None
        kernel, *arguments = self.kernel_arguments
        made = kernel(block.records, *arguments)
        if made is NotImplemented:
            return self._parsed(block)
        records, unparsed, untimed, handed_back = made
        if handed_back:
            again, more_unparsed, more_untimed = self._parsed(
                Block(block.stream, block.common, [records[i] for i in handed_back]))
            for i, record in zip(handed_back, again, strict=True):
                records[i] = record
            unparsed += more_unparsed
            untimed += more_untimed
        return records, unparsed, untimed

    def _parsed(self, block: Block) -> tuple[list[Record], int, int]:
        """The reference: one loop, no call per record beyond the parser's own (this runs for every line
        read); the records, and how many were not parsed and not timed."""
        common = block.common
        parser, target, time_path, parse_time = self.parser, self.target, self.time_path, self.parse_time
        path = None if self.path == ("message",) else self.path
        records: list[Record] = []
        append = records.append
        unparsed = untimed = 0
        for record in block.records:
            text = record[MESSAGE] if path is None else lookup(common, record, path)
            parsed = parser(text) if type(text) is str else None
            if parsed is None:
                unparsed += 1
                append(record)
                continue
            timestamp = record[TIMESTAMP]
            if time_path is not None:
                parsed_time = parse_time(dig(parsed, time_path))
                if parsed_time is None:
                    untimed += 1
                else:
                    timestamp = parsed_time
            fields = record[FIELDS]
            if target is not None:
                parsed = {**fields, target: parsed} if fields else {target: parsed}
            else:
                parsed = merged(parsed, fields)
            append((timestamp, record[MESSAGE], parsed))
        return records, unparsed, untimed


def stored_members(fields: Any) -> bytes | None:
    """A record's fields as the spool writes them, without the braces (b"" for none); None when they are
    not a dict the spool can write as it is (the reference then parses the record)."""
    if not fields:
        return b""
    if type(fields) is not dict:
        return None
    try:
        return orjson.dumps(fields)[1:-1]
    except (TypeError, ValueError):
        return None

"""`parse`: each record's field text through one parser, compiled once; the parsed fields are merged
into a copy of the record's fields (records may share their fields mapping, so it is never changed in
place); fields the record already has (a container's `stream`) keep their values."""

from __future__ import annotations

from collections import Counter

from shipper.observe import metrics
from shipper.record import FIELDS, MESSAGE, RESERVED, TIMESTAMP, Block, Record, dig, lookup, set_aside_reserved
from shipper.templates import field_path
from shipper.times import time_parser
from shipper.transforms.base import SingleOutput
from shipper.transforms.parse.config import ParseOptions
from shipper.transforms.parse.formats import COUNTING, PRESETS, Parser, counted, regex_parser


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

    def apply(self, block: Block) -> Block:
        """One loop, no call per record beyond the parser's own: this runs for every line read."""
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
                if not RESERVED.isdisjoint(parsed):
                    parsed = set_aside_reserved(parsed)
                if fields:
                    parsed.update(fields)  # parsed is ours (made by the parser): the record's fields win
            append((timestamp, record[MESSAGE], parsed))
        if unparsed:
            self.unparsed.inc(unparsed)
        if untimed:
            self.untimed.inc(untimed)
        if self.anomalies:
            for kind, count in self.anomalies.items():
                metrics.input_anomalies.labels(*self.labels, kind).inc(count)
            self.anomalies.clear()
        return Block(self.id, common, records)

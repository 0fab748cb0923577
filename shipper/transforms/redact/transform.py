"""`redact`: every pattern over every chosen string. A block's messages are tested together first:
a pattern whose screen (patterns.py) fails for the whole block is not looked at again for any of its
records, so a block without secrets costs one pass of RE2 over its text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

import orjson

from shipper.observe import metrics
from shipper.record import FIELDS, MESSAGE, RESERVED, TIMESTAMP, Block, Record
from shipper.templates import field_path
from shipper.transforms.base import SingleOutput
from shipper.transforms.redact.config import RedactOptions
from shipper.transforms.redact.patterns import BUILTINS, BlockScreen, Pattern, Views

MAX_DEPTH = 64  # deeper parts of a parsed value are redacted as JSON text (no recursion without bound)
Scrub = Callable[[str], str]


class Redact(SingleOutput):
    def __init__(self, transform_id: str, options: RedactOptions):
        super().__init__(transform_id, options)
        self.patterns = [BUILTINS[name] for name in options.builtins]
        self.patterns += [Pattern(p.name, re.compile(p.regex)) for p in options.patterns]
        self.replacement = options.replacement
        self.paths = [_path(name) for name in options.fields] if options.fields is not None else None
        self.counters = {p.name: metrics.redactions.labels(*self.labels, p.name) for p in self.patterns}
        self.screen = BlockScreen(self.patterns)

    def apply(self, block: Block) -> Block:
        counts: Counter[str] = Counter()
        scrub = self._scrubber(self.patterns, counts)
        common, records = block.common, list(block.records)
        if self.paths is None or ("message",) in self.paths:
            records = self._scrub_messages(records, counts)
        if self.paths is None:
            common = _scrub_tree(common, scrub, 0)
            records = _scrub_fields(records, scrub)
        else:
            for path in self.paths:
                if path == ("message",):
                    continue
                if path[0] in RESERVED:
                    common = _scrub_at(common, path, scrub)
                else:
                    records = [(r[TIMESTAMP], r[MESSAGE], _scrub_at(r[FIELDS], path, scrub)) for r in records]
        for name, count in counts.items():
            self.counters[name].inc(count)
        return Block(self.id, common, records)

    def _scrub_messages(self, records: list[Record], counts: Counter[str]) -> list[Record]:
        candidates = self.screen.candidates(Views("\n".join(map(itemgetter(MESSAGE), records))))
        if not candidates:
            return records
        scrub = self._scrubber(candidates, counts)
        return [(r[TIMESTAMP], scrub(r[MESSAGE]), r[FIELDS]) for r in records]

    def _scrubber(self, patterns: list[Pattern], counts: Counter[str]) -> Scrub:
        replacers = [(p, self._replace(p, counts)) for p in patterns]

        def scrub(text: str) -> str:
            views = Views(text)
            for pattern, replace in replacers:
                if pattern.gate is None or pattern.gate(views):
                    replaced = pattern.regex.sub(replace, views.text)
                    if replaced is not views.text:
                        views = Views(replaced)
            return views.text

        return scrub

    def _replace(self, pattern: Pattern, counts: Counter[str]) -> Callable[[re.Match[str]], str]:
        secret_group = "secret" in pattern.regex.groupindex

        def replace(match: re.Match[str]) -> str:
            found = match.group(0)
            if pattern.check is not None and not pattern.check(found):
                return found
            counts[pattern.name] += 1
            if not secret_group or match.start("secret") < 0:
                return self.replacement
            start, end = match.start("secret") - match.start(), match.end("secret") - match.start()
            return found[:start] + self.replacement + found[end:]

        return replace


def _path(name: str) -> tuple[str, ...]:
    path = field_path(name)
    assert path is not None  # checked by RedactOptions
    return path


def _scrub_fields(records: list[Record], scrub: Scrub) -> list[Record]:
    """Every record's fields scrubbed; a mapping that records share (a container's `stream`) is scrubbed
    once, and the records are only rebuilt when some mapping changed."""
    distinct = {id(fields): fields for fields in map(itemgetter(FIELDS), records) if fields is not None}
    scrubbed = {key: _scrub_tree(fields, scrub, 0) for key, fields in distinct.items()}
    if all(scrubbed[key] is fields for key, fields in distinct.items()):
        return records
    return [(r[TIMESTAMP], r[MESSAGE], scrubbed[id(r[FIELDS])] if r[FIELDS] is not None else None) for r in records]


def _scrub_tree(value: Any, scrub: Scrub, depth: int) -> Any:
    """`value` with every string in it scrubbed; the same object when nothing changed."""
    if isinstance(value, str):
        return scrub(value)
    if depth >= MAX_DEPTH and isinstance(value, Mapping | list):
        return scrub(orjson.dumps(value, default=str).decode())
    if isinstance(value, Mapping):
        changed = {key: _scrub_tree(item, scrub, depth + 1) for key, item in value.items()}
        return value if all(changed[key] is item for key, item in value.items()) else changed
    if isinstance(value, list):
        items = [_scrub_tree(item, scrub, depth + 1) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return value


def _scrub_at(tree: Any, path: tuple[str, ...], scrub: Scrub) -> Any:
    """`tree` with the value at `path` scrubbed (the maps on the way copied when it changes)."""
    if not path:
        return _scrub_tree(tree, scrub, 0)
    if not isinstance(tree, Mapping) or path[0] not in tree:
        return tree
    inner = _scrub_at(tree[path[0]], path[1:], scrub)
    return tree if inner is tree[path[0]] else {**tree, path[0]: inner}

"""`redact`: every pattern over every chosen string, every key, and whole values under secret names.

It fails closed. What it cannot scan (a value nested past MAX_DEPTH) is replaced, and a failure of
its own on a block is retried record by record, a record that still fails leaving with its message
replaced and no fields: counted under `shipper_redactions_total{pattern="unscannable"}`, never passed
on as it came. Values it could not otherwise read as text (raw bytes, extension types a forward
client sends) are scanned as the text the spool would store. A block's messages are tested together
first: a pattern whose screen (patterns.py) fails for the whole block is not looked at again for any
of its records, so a block without secrets costs one pass of RE2 over its text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from operator import itemgetter
from typing import Any

from shipper.observe import metrics
from shipper.record import FIELDS, MESSAGE, RESERVED, TIMESTAMP, Block, Record
from shipper.regex import matchable
from shipper.templates import field_path
from shipper.transforms.base import SingleOutput
from shipper.transforms.redact.config import RedactOptions
from shipper.transforms.redact.patterns import BUILTINS, BlockScreen, Pattern, Views
from shipper.transforms.redact.secret_keys import SecretKeys

MAX_DEPTH = 64  # deeper parts of a value are replaced whole (no recursion without bound)
UNSCANNABLE = "unscannable"
SECRET_KEY = "secret_key"
Scrub = Callable[[str], str]


class Redact(SingleOutput):
    fails_closed = True

    def __init__(self, transform_id: str, options: RedactOptions):
        super().__init__(transform_id, options)
        self.patterns = [BUILTINS[name] for name in options.builtins]
        self.patterns += [Pattern(p.name, p.compiled()) for p in options.patterns]
        self.replacement = options.replacement
        self.paths = [_path(name) for name in options.fields] if options.fields is not None else None
        self.secret_keys = SecretKeys(options.secret_key_names())
        names = [p.name for p in self.patterns] + [SECRET_KEY, UNSCANNABLE]
        self.counters = {name: metrics.redactions.labels(*self.labels, name) for name in names}
        self.screen = BlockScreen(self.patterns)

    def apply(self, block: Block) -> Block:
        counts: Counter[str] = Counter()
        try:
            out = self._redact(block, counts)
        except Exception:
            self._report_failure()
            counts = Counter()
            out = self._redact_record_by_record(block, counts)
        for name, count in counts.items():
            self.counters[name].inc(count)
        return out

    def _redact(self, block: Block, counts: Counter[str]) -> Block:
        common, records = block.common, list(block.records)
        if self.paths is None or ("message",) in self.paths:
            records = self._scrub_messages(records, counts)
        if self.paths is None:
            distinct = {id(fields): fields for fields in map(itemgetter(FIELDS), records) if fields is not None}
            texts = [*_texts(common), *(text for fields in distinct.values() for text in _texts(fields))]
            candidates = self.screen.candidates(Views("\n".join(texts)))  # the keys and values, screened at once
            tree = _Tree(self._scrubber(candidates, counts), self.secret_keys, self.replacement, counts)
            common = tree.scrub(common)
            records = _scrub_fields(records, distinct, tree)
        else:
            tree = _Tree(self._scrubber(self.patterns, counts), self.secret_keys, self.replacement, counts)
            for path in self.paths:
                if path == ("message",):
                    continue
                if path[0] in RESERVED:
                    common = tree.scrub_at(common, path)
                else:
                    records = [(r[TIMESTAMP], r[MESSAGE], tree.scrub_at(r[FIELDS], path)) for r in records]
        return Block(self.id, common, records)

    def _redact_record_by_record(self, block: Block, counts: Counter[str]) -> Block:
        """The block again, one record at a time; what fails even alone is replaced, never passed on."""
        try:
            common = self._redact(Block(block.stream, block.common, []), counts).common
        except Exception:
            counts[UNSCANNABLE] += 1
            common = _blanked(block.common, self.replacement)
        records: list[Record] = []
        for record in block.records:
            try:
                (redacted,) = self._redact(Block(block.stream, {}, [record]), counts).records
            except Exception:
                counts[UNSCANNABLE] += 1
                redacted = (record[TIMESTAMP], self.replacement, None)
            records.append(redacted)
        return Block(self.id, common, records)

    def _scrub_messages(self, records: list[Record], counts: Counter[str]) -> list[Record]:
        candidates = self.screen.candidates(Views("\n".join(map(itemgetter(MESSAGE), records))))
        if not candidates:
            return records
        scrub = self._scrubber(candidates, counts)
        return [(r[TIMESTAMP], scrub(r[MESSAGE]), r[FIELDS]) for r in records]

    def _scrubber(self, patterns: list[Pattern], counts: Counter[str]) -> Scrub:
        """Every pattern finds its matches in the text as it came, and the union of what they found is
        replaced at once: one pattern's replacement never hides another's match (`Bearer password=x`
        is a bearer token and a password)."""
        finders = [(p, [i for name, i in p.regex.groupindex.items() if name.startswith("secret")]) for p in patterns]
        replacement = self.replacement
        if not finders:
            return _unchanged

        def scrub(text: str) -> str:
            views = Views(text)
            spans: list[tuple[int, int]] = []
            for pattern, groups in finders:
                if pattern.gate is None or pattern.gate(views):
                    for match in pattern.regex.finditer(text):
                        span = _secret_span(match, pattern, groups)
                        if span is not None:
                            counts[pattern.name] += 1
                            spans.append(span)
            return _replaced(matchable(text), spans, replacement) if spans else text

        return scrub


def _unchanged(text: str) -> str:
    return text


def _secret_span(match: Any, pattern: Pattern, groups: list[int]) -> tuple[int, int] | None:
    """What of a match is replaced: the secret group that took part, else all of it; None when the
    pattern's check says it is a look-alike."""
    if pattern.check is not None and not pattern.check(match.group(0)):
        return None
    for group in groups:
        if match.start(group) >= 0:
            return match.start(group), match.end(group)
    return match.start(), match.end()


def _replaced(text: str, spans: list[tuple[int, int]], replacement: str) -> str:
    """`text` with each run of overlapping spans replaced by one `replacement`."""
    pieces: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if start < position:  # overlaps the run before: widen it
            if end > position:
                position = end
            continue
        pieces += [text[position:start], replacement]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


class _Tree:
    """Scrubs a parsed value: strings by the patterns, keys too, and whole values under secret names."""

    def __init__(self, scrub: Scrub, secret_keys: SecretKeys, replacement: str, counts: Counter[str]):
        self.scrub_text = scrub
        self.secret_keys = secret_keys
        self.replacement = replacement
        self.counts = counts

    def scrub(self, value: Any, depth: int = 0) -> Any:
        """`value` with every string in it scrubbed; the same object when nothing changed."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth >= MAX_DEPTH:
            self.counts[UNSCANNABLE] += 1
            return self.replacement
        if isinstance(value, Mapping):
            return self._scrub_mapping(value, depth)
        if isinstance(value, list | tuple):
            items = [self.scrub(item, depth + 1) for item in value]
            return value if all(new is old for new, old in zip(items, value, strict=True)) else items
        return self.scrub_text(as_text(value))  # raw bytes, extension types: as the spool would store them

    def _scrub_mapping(self, value: Mapping[Any, Any], depth: int) -> Any:
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            text = key if isinstance(key, str) else as_text(key)
            if self.secret_keys.holds(text):
                self.counts[SECRET_KEY] += 1
                new_item: Any = self.replacement
            else:
                new_item = self.scrub(item, depth + 1)
            new_key = self.scrub_text(text)
            changed = changed or new_key is not key or new_item is not item
            out[new_key] = new_item
        return out if changed else value

    def scrub_at(self, tree: Any, path: tuple[str, ...]) -> Any:
        """`tree` with the value at `path` scrubbed (the maps on the way copied when it changes)."""
        if not path:
            return self.scrub(tree)
        if not isinstance(tree, Mapping) or path[0] not in tree:
            return tree
        if self.secret_keys.holds(path[0]):
            self.counts[SECRET_KEY] += 1
            return {**tree, path[0]: self.replacement}
        inner = self.scrub_at(tree[path[0]], path[1:])
        return tree if inner is tree[path[0]] else {**tree, path[0]: inner}


def as_text(value: Any) -> str:
    """A value that is not JSON as text: raw bytes as UTF-8 (invalid bytes replaced), anything else its repr."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return repr(value)


def _blanked(value: Any, replacement: str, depth: int = 0) -> Any:
    """`value` with every string, key and value that is not a number replaced (the last resort)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping) and depth < MAX_DEPTH:
        return {f"{replacement}{i}": _blanked(item, replacement, depth + 1) for i, item in enumerate(value.values())}
    return replacement


def _path(name: str) -> tuple[str, ...]:
    path = field_path(name)
    assert path is not None  # checked by RedactOptions
    return path


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    """The strings a value holds, keys included, as _Tree.scrub reads them (to depth MAX_DEPTH)."""
    if isinstance(value, str):
        yield value
    elif value is None or isinstance(value, bool | int | float) or depth >= MAX_DEPTH:
        return
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield key if isinstance(key, str) else as_text(key)
            yield from _texts(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, depth + 1)
    else:
        yield as_text(value)


def _scrub_fields(records: list[Record], distinct: dict[int, Any], tree: _Tree) -> list[Record]:
    """Every record's fields scrubbed; a mapping that records share (a container's `stream`) is scrubbed
    once (`distinct`: by id), and the records are only rebuilt when some mapping changed."""
    scrubbed = {key: tree.scrub(fields) for key, fields in distinct.items()}
    if all(scrubbed[key] is fields for key, fields in distinct.items()):
        return records
    return [(r[TIMESTAMP], r[MESSAGE], scrubbed[id(r[FIELDS])] if r[FIELDS] is not None else None) for r in records]

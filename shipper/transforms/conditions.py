"""Conditions on a record, shared by `filter` and `route`: what users write, and its compiled test.

`{field: F, regex: R}` searches the field's text, `{field: F, equals: V}` compares its value,
`{field: F, exists: true}` asks whether it has one; `{all: [...]}`, `{any: [...]}` and `{not: {...}}`
combine them. A field is a path as templates write it: `kubernetes.labels["app.kubernetes.io/name"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from shipper.config.base import Options
from shipper.config.units import FieldPath, Regex
from shipper.record import MESSAGE, Record, lookup
from shipper.regex import BlockSearch
from shipper.templates import field_path

# (block's common fields, its records) -> whether each matches: a block at a time, so a regular
# expression makes one pass over the block (shipper/regex.py: BlockSearch)
Test = Callable[[Mapping[str, Any], Sequence[Record]], list[bool]]


class Condition(Options):
    field: FieldPath | None = Field(None, description="The field a test reads, e.g. `message` or "
                                                      "`kubernetes.namespace`.")
    regex: Regex | None = Field(None, description="Matches when the field's text contains a match of this regex.")
    equals: Any = Field(None, description="Matches when the field's value equals this one (`200` is a number, "
                        "`\"200\"` a string).")
    exists: bool | None = Field(None, description="Matches when the field has a value (true) or has none (false).")
    all: list[Condition] | None = Field(None, description="Matches when every condition listed matches.")
    any: list[Condition] | None = Field(None, description="Matches when at least one condition listed matches.")
    not_: Condition | None = Field(None, alias="not", description="Matches when this condition does not.")


    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        tests = [key for key in ("regex", "equals", "exists") if key in self.model_fields_set]
        groups = [key for key in ("all", "any", "not_") if key in self.model_fields_set]
        if len(tests) + len(groups) != 1:
            raise ValueError("a condition is one of {field, regex}, {field, equals}, {field, exists}, {all: [...]}, "
                             "{any: [...]} or {not: {...}}")
        if tests and self.field is None:
            raise ValueError(f"'{tests[0]}' needs 'field': the field it tests")
        if groups and self.field is not None:
            raise ValueError(f"'field' does not go with '{groups[0].rstrip('_')}'")
        return self

    def compile(self) -> Test:
        if self.all is not None:
            return _all_of([c.compile() for c in self.all])
        if self.any is not None:
            return _any_of([c.compile() for c in self.any])
        if self.not_ is not None:
            inner = self.not_.compile()
            return lambda common, records: [not hit for hit in inner(common, records)]
        assert self.field is not None  # checked by _one_form
        path = field_path(self.field)
        assert path is not None  # checked by _is_path
        return _field_test(path, self)


def _all_of(tests: list[Test]) -> Test:
    """Each test asked only about the records every test before it passed."""
    def test(common: Mapping[str, Any], records: Sequence[Record]) -> list[bool]:
        alive = list(range(len(records)))
        for one in tests:
            if not alive:
                break
            alive = [i for i, hit in zip(alive, one(common, [records[i] for i in alive]), strict=True) if hit]
        hits = [False] * len(records)
        for i in alive:
            hits[i] = True
        return hits

    return test


def _any_of(tests: list[Test]) -> Test:
    """Each test asked only about the records no test before it passed."""
    def test(common: Mapping[str, Any], records: Sequence[Record]) -> list[bool]:
        hits = [False] * len(records)
        left = list(range(len(records)))
        for one in tests:
            if not left:
                break
            found = one(common, [records[i] for i in left])
            for i, hit in zip(left, found, strict=True):
                hits[i] = hit
            left = [i for i, hit in zip(left, found, strict=True) if not hit]
        return hits

    return test


def _field_test(path: tuple[str, ...], condition: Condition) -> Test:
    if path == ("message",) and condition.regex is not None:  # the usual grep: one pass over the block
        search_messages = BlockSearch(condition.regex)
        return lambda common, records: search_messages([record[MESSAGE] for record in records])

    if path == ("message",):
        def values(common: Mapping[str, Any], records: Sequence[Record]) -> list[Any]:
            return [record[MESSAGE] for record in records]
    else:
        def values(common: Mapping[str, Any], records: Sequence[Record]) -> list[Any]:
            return [lookup(common, record, path) for record in records]

    if condition.regex is not None:
        search = BlockSearch(condition.regex)

        def matches(common: Mapping[str, Any], records: Sequence[Record]) -> list[bool]:
            found = values(common, records)
            present = [i for i, value in enumerate(found) if value is not None]
            hits = [False] * len(records)
            texts = [found[i] if isinstance(found[i], str) else str(found[i]) for i in present]
            for i, hit in zip(present, search(texts), strict=True):
                hits[i] = hit
            return hits

        return matches
    if "equals" in condition.model_fields_set:
        wanted = condition.equals
        return lambda common, records: [value == wanted for value in values(common, records)]
    present = bool(condition.exists)
    return lambda common, records: [(value is not None) == present for value in values(common, records)]

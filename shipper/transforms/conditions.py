"""Conditions on a record, shared by `filter` and `route`: what users write, and its compiled test.

`{field: F, regex: R}` searches the field's text, `{field: F, equals: V}` compares its value,
`{field: F, exists: true}` asks whether it has one; `{all: [...]}`, `{any: [...]}` and `{not: {...}}`
combine them. A field is a path as templates write it: `kubernetes.labels["app.kubernetes.io/name"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from shipper.config.base import Options
from shipper.config.units import Regex
from shipper.record import MESSAGE, Record, lookup
from shipper.regex import compile_regex
from shipper.templates import field_path

Test = Callable[[Mapping[str, Any], Record], bool]  # (block's common fields, record) -> matches


class Condition(Options):
    field: str | None = Field(None, description="The field a test reads, e.g. `message` or `kubernetes.namespace`.")
    regex: Regex | None = Field(None, description="Matches when the field's text contains a match of this regex.")
    equals: Any = Field(None, description="Matches when the field's value equals this one (`200` is a number, "
                        "`\"200\"` a string).")
    exists: bool | None = Field(None, description="Matches when the field has a value (true) or has none (false).")
    all: list[Condition] | None = Field(None, description="Matches when every condition listed matches.")
    any: list[Condition] | None = Field(None, description="Matches when at least one condition listed matches.")
    not_: Condition | None = Field(None, alias="not", description="Matches when this condition does not.")

    @field_validator("field")
    @classmethod
    def _is_path(cls, field: str | None) -> str | None:
        if field is not None and field_path(field) is None:
            raise ValueError(f"{field!r} is not a field path such as kubernetes.pod_name")
        return field

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
            tests = [c.compile() for c in self.all]
            return lambda common, record: all(test(common, record) for test in tests)
        if self.any is not None:
            tests = [c.compile() for c in self.any]
            return lambda common, record: any(test(common, record) for test in tests)
        if self.not_ is not None:
            inner = self.not_.compile()
            return lambda common, record: not inner(common, record)
        assert self.field is not None  # checked by _one_form
        path = field_path(self.field)
        assert path is not None  # checked by _is_path
        return _field_test(path, self)


def _field_test(path: tuple[str, ...], condition: Condition) -> Test:
    if path == ("message",) and condition.regex is not None:  # the usual grep: one call per record
        search_message = compile_regex(condition.regex).search
        return lambda common, record: search_message(record[MESSAGE]) is not None
    if path == ("message",):
        def value(common: Mapping[str, Any], record: Record) -> Any:
            return record[MESSAGE]
    else:
        def value(common: Mapping[str, Any], record: Record) -> Any:
            return lookup(common, record, path)
    if condition.regex is not None:
        search = compile_regex(condition.regex).search

        def matches(common: Mapping[str, Any], record: Record) -> bool:
            found = value(common, record)
            if found is None:
                return False
            return search(found if isinstance(found, str) else str(found)) is not None

        return matches
    if "equals" in condition.model_fields_set:
        wanted = condition.equals
        return lambda common, record: value(common, record) == wanted
    present = bool(condition.exists)
    return lambda common, record: (value(common, record) is not None) == present

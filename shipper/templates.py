"""Per-record templates such as `/eks/prod/{kubernetes.namespace}`.

`{a.b.c}` is replaced by the record field at that path; `{{` and `}}` stand for literal braces.
Templates are compiled once when the configuration loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-/]+)*$")

FieldLookup = Callable[[tuple[str, ...]], Any]


class MissingField(LookupError):
    """The record has no value for a field the template names."""

    def __init__(self, path: tuple[str, ...]):
        self.path = path
        super().__init__(".".join(path))


class Template:
    __slots__ = ("fields", "parts", "source")

    def __init__(self, source: str):
        self.source = source
        self.parts: list[str | tuple[str, ...]] = _compile(source)
        self.fields = [part for part in self.parts if isinstance(part, tuple)]

    @property
    def is_constant(self) -> bool:
        return not self.fields

    def render(self, lookup: FieldLookup) -> str:
        """The text with every field filled in; raises MissingField when the record lacks one."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(part)
            if value is None or value == "":
                raise MissingField(part)
            out.append(value if isinstance(value, str) else str(value))
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def _compile(source: str) -> list[str | tuple[str, ...]]:
    parts: list[str | tuple[str, ...]] = []
    literal: list[str] = []
    i = 0
    while i < len(source):
        char = source[i]
        if source.startswith("{{", i) or source.startswith("}}", i):
            literal.append(char)
            i += 2
        elif char == "{":
            end = source.find("}", i)
            if end < 0:
                raise ValueError(f"template {source!r}: '{{' at position {i} is never closed")
            name = source[i + 1 : end].strip()
            if not _FIELD_PATH.match(name):
                raise ValueError(f"template {source!r}: {{{name}}} is not a field path such as {{kubernetes.pod_name}}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(tuple(name.split(".")))
            i = end + 1
        elif char == "}":
            raise ValueError(f"template {source!r}: '}}' at position {i} has no opening '{{'")
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts

"""Per-record templates such as `/eks/prod/{kubernetes.namespace}`.

`{a.b.c}` is replaced by the record field at that path; a key holding dots or slashes is written in
brackets and quotes: `{kubernetes.labels["app.kubernetes.io/name"]}`. `{{` and `}}` stand for
literal braces. Templates are compiled once when the configuration loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_FIRST_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_NEXT_KEY = re.compile(r'\.([A-Za-z0-9_\-/]+)|\["((?:[^"\\]|\\.)+)"\]')

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
            path = field_path(name)
            if path is None:
                raise ValueError(f"template {source!r}: {{{name}}} is not a field path such as {{kubernetes.pod_name}}"
                                 ' or {kubernetes.labels["app.kubernetes.io/name"]}')
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(path)
            i = end + 1
        elif char == "}":
            raise ValueError(f"template {source!r}: '}}' at position {i} has no opening '{{'")
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def field_path(name: str) -> tuple[str, ...] | None:
    """`a.b["c.d/e"]` -> ("a", "b", "c.d/e"); None when `name` is not a field path."""
    first = _FIRST_KEY.match(name)
    if first is None:
        return None
    keys = [first.group()]
    at = first.end()
    while at < len(name):
        key = _NEXT_KEY.match(name, at)
        if key is None:
            return None
        keys.append(key[1] if key[1] is not None else re.sub(r"\\(.)", r"\1", key[2]))
        at = key.end()
    return tuple(keys)


def field_text(path: tuple[str, ...]) -> str:
    """A field path as a template writes it: `kubernetes.labels["app.kubernetes.io/name"]`."""
    return path[0] + "".join(f".{key}" if re.fullmatch(r"[A-Za-z0-9_\-]+", key) else f'["{key}"]'
                             for key in path[1:])

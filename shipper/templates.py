"""Per-record templates such as `/eks/prod/{kubernetes.namespace}`.

`{a.b.c}` is replaced by the record field at that path; a key holding dots or slashes is written in
brackets and quotes: `{kubernetes.labels["app.kubernetes.io/name"]}`. `{{` and `}}` stand for
literal braces. Templates are compiled once when the configuration loads.

A field named the way Vector (`{{ kubernetes.pod_namespace }}`) or Fluent Bit
(`$kubernetes['namespace_name']`) write templates is refused with this agent's spelling of the same
field: kept, it would render literally and send every record to one wrongly named place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shipper.layouts import ours

_FIRST_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_VECTOR_FIELD = re.compile(r"(?<!\{)\{\{\s*([^{}\s]+)\s*\}\}(?!\})")
_FLUENT_BIT_ACCESSOR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)((?:\[(?:'[^']*'|\"[^\"]*\")\])+)")
_ACCESSOR_KEY = re.compile(r"\['([^']*)'\]|\[\"([^\"]*)\"\]")
_NEXT_KEY = re.compile(r'\.([A-Za-z0-9_\-/]+)|\["((?:[^"\\]|\\.)+)"\]')

FieldLookup = Callable[[tuple[str, ...]], Any]


class MissingField(LookupError):
    """The record has no value for a field the template names."""

    def __init__(self, path: tuple[str, ...]):
        self.path = path
        super().__init__(".".join(path))


class Template:
    __slots__ = ("fields", "parts", "source")

    def __init__(self, source: str, layout: str = "shipper"):
        """`layout`: a sink's record layout (layouts.py), whose names the template may use for ours."""
        self.source = source
        self.parts: list[str | tuple[str, ...]] = _compile(source)
        if layout != "shipper":
            self.parts = [_ours(part, layout) if isinstance(part, tuple) else part for part in self.parts]
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


def varies_per_record(roots: frozenset[str], fields: list[Mapping[str, Any] | None]) -> bool:
    """Whether templates naming fields under `roots` (their first keys) render differently for records
    of one block, the records given by their own `fields`: when one carries its own value for such a
    field, or the templates name the message. Otherwise the block's common fields decide, and a sink
    renders once per block."""
    if not roots or "message" in roots:
        return bool(roots)
    distinct: Iterable[Mapping[str, Any] | None]
    if fields and fields.count(fields[0]) == len(fields):  # the usual block: one mapping (by identity, fast)
        distinct = fields[:1]
    else:
        distinct = dict(zip(map(id, fields), fields, strict=True)).values()  # shared mappings: test each once
    return any(mapping and not roots.isdisjoint(mapping) for mapping in distinct)


def _peer_spelling(source: str) -> str | None:
    """Why `source` must be refused for naming a field as Vector or Fluent Bit would, if it must."""
    vector = _VECTOR_FIELD.search(source)
    if vector is not None and (path := field_path(vector[1])) is not None:
        return (f"{vector[0]} is Vector's way to name a field; here it is {{{field_text(_ours(path))}}} "
                "(`{{` and `}}` are literal braces, for text that is not a field name)")
    accessor = _FLUENT_BIT_ACCESSOR.search(source)
    if accessor is not None:
        keys = tuple(a or b for a, b in _ACCESSOR_KEY.findall(accessor[2]))
        return (f"{accessor[0]} is Fluent Bit's record accessor; here the field is "
                f"{{{field_text(_ours((accessor[1], *keys)))}}}")
    return None


def _ours(path: tuple[str, ...], layout: str | None = None) -> tuple[str, ...]:
    translated = ours(path, layout)
    return translated[1] if translated else path


def _compile(source: str) -> list[str | tuple[str, ...]]:
    refused = _peer_spelling(source)
    if refused is not None:
        raise ValueError(f"template {source!r}: {refused}")
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

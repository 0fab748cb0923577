"""Log group and stream names from templates, cleaned to what CloudWatch accepts.

Group names: 1-512 of `A-Za-z0-9_-./#`. Stream names: 1-512 characters, no `:` or `*`.
A record lacking a field a template names goes to the configured fallback name (counted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shipper.record import Record, lookup
from shipper.templates import MissingField, Template, varies_per_record

MAX_NAME = 512
_GROUP_FORBIDDEN = re.compile(r"[^A-Za-z0-9_\-./#]")
_STREAM_FORBIDDEN = re.compile(r"[:*]")


def clean_group_name(name: str) -> str:
    return _GROUP_FORBIDDEN.sub("_", name)[:MAX_NAME]


def clean_stream_name(name: str) -> str:
    return _STREAM_FORBIDDEN.sub("_", name)[:MAX_NAME]


def check_group_name(name: str) -> str:
    if not name or len(name) > MAX_NAME or _GROUP_FORBIDDEN.search(name):
        raise ValueError(f"{name!r} is not a log group name (1-512 of A-Z a-z 0-9 _ - . / #)")
    return name


def check_stream_name(name: str) -> str:
    if not name or len(name) > MAX_NAME or _STREAM_FORBIDDEN.search(name):
        raise ValueError(f"{name!r} is not a log stream name (1-512 characters, no ':' or '*')")
    return name


class Namer:
    """Names a record's (group, stream); renders once per block when no record overrides a field."""

    def __init__(self, group: str, stream: str, fallback_group: str, fallback_stream: str, layout: str = "shipper"):
        self.group = Template(group, layout)
        self.stream = Template(stream, layout)
        self.fallback_group = fallback_group
        self.fallback_stream = fallback_stream
        self._roots = frozenset(path[0] for path in (*self.group.fields, *self.stream.fields))
        self.fallbacks = 0  # records named by a fallback since the last read of this count

    def per_record(self, fields: list[Mapping[str, Any] | None]) -> bool:
        """Whether some record (given by its `fields`) carries its own value for a field the templates name."""
        return varies_per_record(self._roots, fields)

    def name(self, common: Mapping[str, Any], record: Record) -> tuple[str, str]:
        def field(path: tuple[str, ...]) -> Any:
            return lookup(common, record, path)

        try:
            group = clean_group_name(self.group.render(field))
        except MissingField:
            group = ""
        try:
            stream = clean_stream_name(self.stream.render(field))
        except MissingField:
            stream = ""
        if not group or not stream:
            self.fallbacks += 1
        return group or self.fallback_group, stream or self.fallback_stream

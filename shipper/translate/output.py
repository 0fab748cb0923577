"""The configuration a translation writes: components with the notes that go above them as comments.

Every construct of the old configuration ends in the output as an option or as a comment (`# NOT
TRANSLATED: ...` when nothing here does what it did, `# note: ...` when something does, differently):
a translation never drops a line of the old pipeline silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

SECTIONS = ("sources", "transforms", "sinks")


@dataclass
class Component:
    options: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class Pipeline:
    """The shipper configuration being written, section by section, in the order components are added."""

    origin: str  # what was translated, for the header
    settings: dict[str, Any] = field(default_factory=dict)  # data_dir, buffer, log, api
    components: dict[str, dict[str, Component]] = field(default_factory=lambda: {s: {} for s in SECTIONS})
    notes: list[str] = field(default_factory=list)  # about the whole configuration

    def add(self, section: str, wanted_id: str, options: dict[str, Any], notes: list[str] | None = None) -> str:
        """Adds a component under an id not taken yet (`wanted_id`, else `wanted_id_2`, ...); returns it."""
        taken = {name for components in self.components.values() for name in components}
        component_id, n = wanted_id, 2
        while component_id in taken:
            component_id, n = f"{wanted_id}_{n}", n + 1
        first: dict[str, Any] = {key: options[key] for key in ("type", "inputs") if key in options}
        self.components[section][component_id] = Component({**first, **options}, list(notes or []))
        return component_id

    def find(self, component_id: str) -> Component:
        for components in self.components.values():
            if component_id in components:
                return components[component_id]
        raise KeyError(component_id)

    def render(self) -> str:
        lines = [f"# Translated by `shipper translate` from {self.origin}.",
                 "# Lines marked NOT TRANSLATED did something this configuration does not do: read them before",
                 "# the first start. Check it with `shipper check --config <this file>`."]
        lines += [f"# {line}" for note in self.notes for line in _wrapped(note)]
        if self.settings:
            lines.append(_dump(self.settings).rstrip("\n"))
        for section in SECTIONS:
            if not self.components[section]:
                continue
            lines.append(f"{section}:")
            for component_id, component in self.components[section].items():
                lines.append(f"  {_dump({component_id: None}).split(':')[0]}:")
                lines += [f"    # {line}" for note in component.notes for line in _wrapped(note)]
                lines += ["    " + line for line in _dump(component.options).rstrip("\n").split("\n")]
        return "\n".join(lines) + "\n"


def not_translated(what: str, why: str = "") -> str:
    return f"NOT TRANSLATED: {what}" + (f" ({why})" if why else "")


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)


def _wrapped(note: str, width: int = 110) -> list[str]:
    """A note cut into comment lines of at most `width` characters, at blanks outside `quoted` spans
    (a command to copy stays on one line)."""
    lines, line = [], ""
    for word in re.findall(r"(?:`[^`]*`|[^\s`])+|`", note):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]

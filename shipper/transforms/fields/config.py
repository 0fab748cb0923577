"""Options of the `fields` transform."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from shipper.config.base import FieldTree, TransformOptions
from shipper.record import RESERVED
from shipper.templates import Template, field_path

WRITABLE_RESERVED = ("message",)  # the record's text may be set; the agent's own metadata never


def _paths(names: list[str], *, target: bool) -> list[str]:
    for name in names:
        path = field_path(name)
        if path is None:
            raise ValueError(f"{name!r} is not a field path such as level or http.status")
        if target and path[0] in RESERVED and path not in {(n,) for n in WRITABLE_RESERVED}:
            raise ValueError(f"{name!r}: the agent sets {path[0]!r} itself, so no record may write it "
                             f"(reserved: {', '.join(sorted(RESERVED))}; `message` alone may be set)")
    return names


class FieldsOptions(TransformOptions):
    """Adds, sets, renames, copies, removes and lifts fields, in that order: `copy`, `rename`, `lift`,
    `add`, `set`, `remove`. Names the agent reserves (`host`, `file`, `kubernetes`, `journald`,
    `source_type`, `timestamp`) can be read, copied out and removed, never written: trusted metadata stays
    trusted. `message` can be written (it is the record's text)."""

    type: Literal["fields"]
    add: dict[str, Any] = Field(default_factory=dict, description="Fields set when the record has none of that name; "
                                "a string value is a template (`{kubernetes.namespace}-app`).")
    set: dict[str, Any] = Field(default_factory=dict, description="Fields set whatever the record has; a string "
                                "value is a template.")
    rename: dict[str, str] = Field(default_factory=dict, description="`from: to`; a missing `from` changes nothing.")
    copy_: dict[str, str] = Field(default_factory=dict, alias="copy", description="`from: to`, keeping `from`.")
    remove: list[str] = Field(default_factory=list, description="Fields removed, e.g. `kubernetes.annotations`.")
    lift: list[str] = Field(default_factory=list, description="Nested maps whose keys move up to the record's root "
                            "(the map itself goes; keys the agent reserves are kept under `log`).")

    @field_validator("add", "set")
    @classmethod
    def _targets_and_templates(cls, values: dict[str, Any]) -> dict[str, Any]:
        _paths(list(values), target=True)
        for value in values.values():
            if isinstance(value, str):
                Template(value)  # raises ValueError naming the mistake
        return values

    @field_validator("rename", "copy_")
    @classmethod
    def _moves(cls, moves: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.field_name == "rename" and "message" in moves:
            raise ValueError("'message' is the record's text: it cannot be renamed away (copy it instead)")
        _paths(list(moves), target=False)
        _paths(list(moves.values()), target=True)
        return moves

    @field_validator("remove", "lift")
    @classmethod
    def _sources(cls, names: list[str]) -> list[str]:
        if "message" in names:
            raise ValueError("'message' is the record's text: it cannot be removed (set it instead)")
        return _paths(names, target=False)

    def fields_from(self, inputs: FieldTree | None) -> FieldTree | None:
        return None

    def describe(self) -> str:
        done = [key for key in ("copy_", "rename", "lift", "add", "set", "remove") if getattr(self, key)]
        done = [key.rstrip("_") for key in done]
        return "fields: " + ", ".join(done) if done else "fields"

"""docs/configuration.md, written from the option models themselves: every option with its type,
default and description, so the reference cannot drift from the code (a test compares them).

    python -m shipper.reference > docs/configuration.md
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shipper.components import CONFIG_MODEL
from shipper.config.units import check_address, parse_duration, parse_size

INTRO = """\
# Configuration reference

Generated from the option models (`python -m shipper.reference > docs/configuration.md`);
a test fails when this file and the code disagree. The README shows a whole configuration; this
page lists every option.

Conventions: YAML; `${VAR}` and `${VAR:-default}` are taken from the environment when the file is
loaded (`$$` is a literal `$`); sizes take units (`512MiB`, `10MB`, `1GiB`; a bare number is bytes);
durations take units (`250ms`, `5s`, `1m`; a bare number is seconds); templates (`{field.path}`,
`{kubernetes.labels["app.kubernetes.io/name"]}`) are filled per record, see
[records.md](records.md). Unknown keys are errors.
"""


def render() -> str:
    components = {"sources", "transforms", "sinks"}
    sections = [INTRO, _table("Top level", CONFIG_MODEL, skip=components)]
    for path, nested in _nested(CONFIG_MODEL, skip=components):
        sections.append(_table(f"`{path}`", nested))
    for title, union in (("Sources", "sources"), ("Transforms", "transforms"), ("Sinks", "sinks")):
        sections.append(f"## {title}\n\nEach entry of `{union}:` is an id (letters, digits, `_`, `-`) and a "
                        "mapping whose `type` picks one of the kinds below.\n")
        for variant in _variants(CONFIG_MODEL.model_fields[union].annotation):
            kind = typing.get_args(variant.model_fields["type"].annotation)[0]
            sections.append(_table(f"`type: {kind}`", variant, level=3, skip={"type"}))
            for path, model in _nested(variant):
                sections.append(_table(f"`{kind}`: `{path}`", model, level=4))
    return "\n".join(sections).rstrip() + "\n"


def _table(title: str, model: type[BaseModel], level: int = 2, skip: frozenset[str] | set[str] = frozenset()) -> str:
    lines = [f"{'#' * level} {title}", ""]
    if model.__doc__ and model.__doc__.strip() and not model.__doc__.startswith(("Base class", "A base")):
        lines += [" ".join(model.__doc__.split()), ""]
    lines += ["| option | type | default | what it does |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{field.alias or name}` | {_type(field)} | {_default(field)} | {description} |")
    return "\n".join(lines) + "\n"


def _nested(model: type[BaseModel], skip: frozenset[str] | set[str] = frozenset(),
            prefix: str = "", seen: frozenset[type[BaseModel]] = frozenset()) -> list[tuple[str, type[BaseModel]]]:
    """(dotted path, model) of every option that is itself a mapping of options; a model that holds
    itself (a condition of conditions) is listed once."""
    found = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        for inner in _models(field.annotation):
            if inner in seen or inner is model:
                continue
            path = f"{prefix}{field.alias or name}"
            found.append((path, inner))
            found += _nested(inner, prefix=f"{path}.", seen=seen | {model, inner})
    return found


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _variants(annotation: Any) -> list[type[BaseModel]]:
    while typing.get_origin(annotation) is typing.Annotated or typing.get_origin(annotation) is dict:
        annotation = typing.get_args(annotation)[-1 if typing.get_origin(annotation) is dict else 0]
    return [v for v in typing.get_args(annotation) if isinstance(v, type) and issubclass(v, BaseModel)]


UNITS = {parse_size: "size", parse_duration: "duration", check_address: "host:port"}


def _unit(metadata: list[Any] | tuple[Any, ...]) -> str | None:
    """`size`, `duration` or `host:port` when a field's validators say it is one."""
    return next((UNITS[m.func] for m in metadata if getattr(m, "func", None) in UNITS), None)


def _type(field: FieldInfo) -> str:
    return _unit(field.metadata) or _describe(field.annotation)


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _unit(extra) or _describe(inner)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(annotation))
    if origin is list:
        return f"list of {_describe(typing.get_args(annotation)[0])}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"mapping of {_describe(key)} to {_describe(value)}"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping (below)"
    if annotation is SecretStr:
        return "string (secret: never shown)"
    if annotation is typing.Any:
        return "any value"
    return {str: "string", int: "integer", float: "number", bool: "true \\| false"}.get(annotation, str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.get_default(call_default_factory=True, validated_data={})
        if isinstance(value, BaseModel):
            return "(see below)"
    else:
        value = field.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value in ([], {}):
        return "empty"
    unit = _unit(field.metadata)
    if unit == "size":
        return f"`{_size(value)}`"
    if unit == "duration":
        return f"`{value:g}s`"
    return f"`{value}`"


def _size(value: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


if __name__ == "__main__":
    print(render(), end="")

"""Load a YAML configuration: line numbers, `${VAR}` expansion, validation, cross-checks.

Every problem becomes a ConfigIssue naming the key path and the reason; all of them are reported
at once so a user fixes a file in one pass.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from shipper.config.base import SECRET_OPTIONS
from shipper.config.errors import ConfigError, ConfigIssue
from shipper.config.model import AgentConfig

Path_ = tuple[str | int, ...]
_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{([^}]*)\}?")


def load_config(path: str | os.PathLike[str], model: type[AgentConfig],
                environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, expand and validate a configuration file against `model` (the registry's, see
    `shipper.components.load_config`); raise ConfigError listing every problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(name, [ConfigIssue("", f"cannot read the file: {error}")]) from None
    return parse_config(text, name, model, os.environ if environ is None else environ)


def parse_config(text: str, name: str, model: type[AgentConfig], environ: Mapping[str, str]) -> AgentConfig:
    lines: dict[Path_, int] = {}
    issues: list[ConfigIssue] = []
    raw = _parse_yaml(text, name, lines, issues)
    if issues:
        raise ConfigError(name, issues)
    if not isinstance(raw, dict):
        raise ConfigError(name, [ConfigIssue("", "the file must hold a mapping of keys (data_dir, sources, sinks)")])
    expanded = _expand_env(raw, (), environ, lines, issues)
    if issues:
        raise ConfigError(name, issues)
    try:
        config = model.model_validate(expanded)
    except ValidationError as error:
        raise ConfigError(name, _describe(error, expanded, lines, model)) from None
    issues = _cross_check(config, lines)
    if issues:
        raise ConfigError(name, issues)
    return config


def _parse_yaml(text: str, name: str, lines: dict[Path_, int], issues: list[ConfigIssue]) -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        issues.append(ConfigIssue("", f"invalid YAML: {problem}", mark.line + 1 if mark else None))
        return None
    if node is None:
        issues.append(ConfigIssue("", "the file is empty"))
        return None
    return _construct(node, (), lines, issues)


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], issues: list[ConfigIssue]) -> Any:
    """Build plain Python values from YAML nodes, recording each key's line and refusing duplicates."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.SafeLoader(" ").construct_object(key_node)) if key_node.value is not None else ""
            if key in result:
                issues.append(ConfigIssue(_dotted(path), f"duplicate key {key!r}", key_node.start_mark.line + 1))
                continue
            result[key] = _construct(value_node, (*path, key), lines, issues)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, issues) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)


def _expand_env(
    value: Any, path: Path_, environ: Mapping[str, str], lines: dict[Path_, int], issues: list[ConfigIssue]
) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, (*path, k), environ, lines, issues) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*path, i), environ, lines, issues) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name is None:
            issues.append(_issue(path, f"{match.group(0)!r} is not a valid ${{VAR}} or ${{VAR:-default}} reference",
                                 lines))
            return ""
        current = environ.get(name)
        if default is not None and not current:
            return default
        if current is None:
            issues.append(_issue(path, f"environment variable {name} is not set and has no default", lines))
            return ""
        return current

    return _ENV_REFERENCE.sub(substitute, value)


def _describe(error: ValidationError, raw: Any, lines: dict[Path_, int], model: type[BaseModel]) -> list[ConfigIssue]:
    issues = []
    for detail in error.errors(include_url=False):
        path = _data_path(detail["loc"], raw)
        if detail["type"] == "union_tag_invalid":
            path = (*path, "type")
        issues.append(_issue(path, _reason(detail, path, raw, model), lines))
    return issues


def _data_path(loc: tuple[str | int, ...], raw: Any) -> Path_:
    """Drop the union tags pydantic puts in locations (`sinks.x.console.inputs` -> `sinks.x.inputs`)."""
    path: list[str | int] = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue
        path.append(part)
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
        )
    return tuple(path)


def _reason(detail: ErrorDetails, path: Path_, raw: Any, model: type[BaseModel]) -> str:
    kind = detail["type"]
    value = detail.get("input")
    if SECRET_OPTIONS.intersection(str(part) for part in path):
        value = _Hidden()  # a password or header value is never echoed, even when it is the wrong type
    ctx = detail.get("ctx", {})
    if kind == "extra_forbidden":
        return _unknown_key(path[-1], _allowed_keys(path[:-1], raw, model))
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"type {ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "'type' is required"
    if kind == "literal_error":
        return f"{_show(value)} is not one of {ctx.get('expected')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {_show(value)}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {_show(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {_show(value)}"
    if kind in ("string_type",):
        return f"expected a string, got {_show(value)}"
    if kind in ("list_type",):
        return f"expected a list, got {_show(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {_show(value)}"
    if kind == "too_short":
        return "must not be empty"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()))
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        return f"{_show(value)} must be {words} {bound}"
    if kind == "value_error":
        return str(ctx.get("error", detail["msg"]))
    return str(detail["msg"])


def _unknown_key(key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _allowed_keys(path: Path_, raw: Any, root: type[BaseModel]) -> list[str]:
    """The option names valid at a path, found by walking the model alongside the raw data."""
    model: Any = root
    for part in path:
        raw = raw.get(part) if isinstance(raw, dict) else None
        if typing.get_origin(model) is dict:
            model = _unwrap(typing.get_args(model)[1])
        elif isinstance(model, type) and issubclass(model, BaseModel) and str(part) in model.model_fields:
            model = _unwrap(model.model_fields[str(part)].annotation)
        else:
            return []
        model = _pick_variant(model, raw)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _pick_variant(model: Any, raw: Any) -> Any:
    """The member of a `type`-tagged union that the raw data names, or the one model of an optional
    one (`Options | None`); anything else unchanged."""
    if typing.get_origin(model) not in (typing.Union, types.UnionType):
        return model
    variants = [_unwrap(v) for v in typing.get_args(model)]
    models = [v for v in variants if isinstance(v, type) and issubclass(v, BaseModel)]
    if len(models) == 1:
        return models[0]
    wanted = raw.get("type") if isinstance(raw, dict) else None
    for variant in models:
        type_field = variant.model_fields.get("type")
        if type_field is not None and wanted in typing.get_args(type_field.annotation):
            return variant
    return None


def _cross_check(config: AgentConfig, lines: dict[Path_, int]) -> list[ConfigIssue]:
    return [_issue(path, reason, lines) for path, reason in config.topology().issues()]


def _issue(path: Path_, reason: str, lines: dict[Path_, int]) -> ConfigIssue:
    line = None
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            break
    return ConfigIssue(_dotted(path), reason, line)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Hidden:
    def __repr__(self) -> str:
        return "a value (not shown: it may be a secret)"


def _show(value: Any) -> str:
    if isinstance(value, BaseModel | dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(value)

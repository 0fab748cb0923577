"""Fluent Bit's configuration as read: its sections (`Plugin`), from the classic form (`[INPUT]`...,
`@INCLUDE`, `@SET`) or the YAML form (`pipeline:`), and its names (tags, record accessors, sizes)
as ours. translate/fluent_bit.py builds the pipeline from them."""

from __future__ import annotations

import fnmatch
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shipper.layouts import ours
from shipper.translate.output import not_translated

CONTAINER_PATHS = ("/var/log/containers/", "/var/log/pods/")
# Fluent Bit's parsers (its parsers.conf and built-ins) and ours
PARSERS = {"json": "json", "logfmt": "logfmt", "nginx": "nginx_combined", "k8s-nginx-ingress": None,
           "apache": "apache_combined", "apache2": "apache_combined", "syslog-rfc5424": "syslog_rfc5424",
           "syslog-rfc3164": "syslog_rfc3164", "syslog-rfc3164-local": "syslog_rfc3164"}
CONTAINER_PARSERS = ("docker", "cri")
MULTILINE_LANGUAGES = {"java": "java", "python": "python", "go": "go", "ruby": "ruby"}
ROUTING_KEYS = {"name", "match", "match_regex", "tag", "alias"}
IGNORED_KEYS = {"workers", "retry_limit", "storage.total_limit_size", "log_level", "mem_buf_limit",
                "storage.type", "buffer_chunk_size", "threaded"}  # another agent's tuning: notes, not options


@dataclass
class Plugin:
    """One `[INPUT]`, `[FILTER]`, `[OUTPUT]`, `[PARSER]`... section: its keys (lower case) in order."""

    kind: str
    properties: list[tuple[str, str]]
    used: set[str] = field(default_factory=set)
    undecided: list[str] = field(default_factory=list)  # switches Fluent Bit reads from its environment

    @property
    def name(self) -> str:
        return self.get("name", "").lower()

    def get(self, key: str, default: str = "") -> str:
        self.used.add(key)
        values = [value for k, value in self.properties if k == key]
        return values[-1] if values else default

    def all(self, key: str) -> list[str]:
        self.used.add(key)
        return [value for k, value in self.properties if k == key]

    def on(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if "${" in value:
            self.undecided.append(f"{key} {value}: Fluent Bit reads it from its environment at start; translated as "
                                  f"{'on' if default else 'off'}, set what you mean here")
            return default
        return value.lower() in ("on", "true", "yes", "1") if value else default

    def left(self) -> list[tuple[str, str]]:
        """The keys nothing has read: each becomes a NOT TRANSLATED note."""
        return [(k, v) for k, v in self.properties if k not in self.used and k not in ROUTING_KEYS]


def read(path: Path) -> list[Plugin]:
    """The sections of a Fluent Bit configuration file, classic or YAML (by its extension or content),
    with those of the parsers files its [SERVICE] names (beside it, as Fluent Bit finds them)."""
    text = path.read_text()
    if path.suffix in (".yaml", ".yml") or re.search(r"^\s*pipeline\s*:", text, re.MULTILINE):
        plugins = _read_yaml(text, path.parent)
    else:
        plugins = read_classic(text, path.parent, {})
    for service in [p for p in plugins if p.kind == "SERVICE"]:
        for name in service.all("parsers_file"):
            parsers = path.parent / name
            if parsers.exists():
                plugins += read_classic(parsers.read_text(), parsers.parent, {})
            else:
                service.undecided.append(f"Parsers_File {name}: not found beside the configuration; its parsers "
                                         "are not translated")
    return plugins


def read_classic(text: str, base: Path, variables: dict[str, str]) -> list[Plugin]:
    plugins: list[Plugin] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"\$\{([^}]+)\}", lambda m: variables.get(m[1], m[0]), line)
        if line.lower().startswith("@set "):
            key, _, value = line[5:].partition("=")
            variables[key.strip()] = value.strip()
        elif line.lower().startswith("@include "):
            for included in sorted(glob.glob(str(base / line[9:].strip()))):
                plugins += read_classic(Path(included).read_text(), Path(included).parent, variables)
        elif line.startswith("[") and line.endswith("]"):
            plugins.append(Plugin(line[1:-1].strip().upper(), []))
        elif plugins:
            key, _, value = line.partition(" ")
            plugins[-1].properties.append((key.lower(), value.strip()))
    return plugins


def _read_yaml(text: str, base: Path) -> list[Plugin]:
    document = yaml.safe_load(text) or {}
    plugins: list[Plugin] = []
    for included in document.get("includes", []) or []:
        plugins += read(base / included)
    if isinstance(document.get("service"), dict):
        plugins.append(_plugin("SERVICE", document["service"]))
    for parser in document.get("parsers", []) or []:
        plugins.append(_plugin("PARSER", parser))
    for parser in document.get("multiline_parsers", []) or []:
        plugins.append(_plugin("MULTILINE_PARSER", parser))
    pipeline = document.get("pipeline") or {}
    for kind, key in (("INPUT", "inputs"), ("FILTER", "filters"), ("OUTPUT", "outputs")):
        for each in pipeline.get(key, []) or []:
            plugins.append(_plugin(kind, each))
    return plugins


def _plugin(kind: str, values: dict[str, Any]) -> Plugin:
    properties = []
    for key, value in values.items():
        for each in value if isinstance(value, list) else [value]:
            text = str(each).lower() if isinstance(each, bool) else str(each)
            properties.append((str(key).lower(), "on" if text == "true" else "off" if text == "false" else text))
    return Plugin(kind, properties)


@dataclass
class Input:
    source_id: str
    tag: str
    stage: str  # where its records are so far: its source, or the last transform applied to them
    parsers: list[str] = field(default_factory=list)  # the tail's `Parser`s: parse transforms after it


def matches(plugin: Plugin, tag: str) -> bool:
    pattern = plugin.get("match")
    if pattern:
        return fnmatch.fnmatchcase(tag, pattern)
    regex = plugin.get("match_regex")
    return bool(regex) and re.fullmatch(regex, tag) is not None


_ACCESSOR = re.compile(r"\$([A-Za-z0-9_.-]+)((?:\[['\"][^'\"]+['\"]\])*)")


def field_of(key: str) -> str:
    """A Fluent Bit key or record accessor (`log`, `$kubernetes['namespace_name']`) as our field path."""
    key = key.strip()
    match = _ACCESSOR.fullmatch(key)
    parts = ([match[1], *re.findall(r"\[['\"]([^'\"]+)['\"]\]", match[2])] if match else [key])
    mapped = ours(tuple(parts), "fluent_bit")
    return ".".join(mapped[1] if mapped else parts)


def template_of(template: str, notes: list[str]) -> str:
    """A log_group_template / log_stream_template with our braces (names stay Fluent Bit's: the layout
    takes them); `$tag` has no equivalent here."""
    if not template:
        return ""
    if re.search(r"\$tag|\$TAG", template):
        notes.append(not_translated(f"template {template}", "no tags here: name the group by record fields"))
        return ""
    return _ACCESSOR.sub(lambda m: "{" + ".".join([m[1], *re.findall(r"\[['\"]([^'\"]+)['\"]\]", m[2])]) + "}",
                         template)


def identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "component"


SIZE_UNITS = {"k": "KiB", "m": "MiB", "g": "GiB"}


def size_of(value: str) -> str | int:
    """Fluent Bit's sizes (`32k`, `5M`, `1MB`: powers of 1024) as ours."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", value)
    if match is None:
        return value
    return f"{match[1]}{SIZE_UNITS[match[2].lower()]}" if match[2] else int(match[1])

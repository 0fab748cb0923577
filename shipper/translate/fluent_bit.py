"""Fluent Bit's configuration (classic `[INPUT]`/`[FILTER]`/`[OUTPUT]` files with `@INCLUDE` and `@SET`,
or the YAML form with `pipeline:`) as a shipper configuration.

Fluent Bit routes by tag: each input tags its records, each filter and output takes the tags its
`Match` (or `Match_Regex`) selects, filters in the order written. Here each filter becomes a
transform whose `inputs` are where its matching inputs' records are so far, and each output a sink
taking the last of those; sinks write with `layout: fluent_bit`, so templates and encoded records
keep Fluent Bit's names (`log`, `kubernetes.namespace_name`). Keys no rule below takes are written as
NOT TRANSLATED comments (output.py).
"""

from __future__ import annotations

from typing import Any

from shipper.translate.fluent_bit_config import (
    CONTAINER_PARSERS,
    CONTAINER_PATHS,
    MULTILINE_LANGUAGES,
    Input,
    Plugin,
    identifier,
    read,
    size_of,
)
from shipper.translate.fluent_bit_filters import apply_filter, parse_options
from shipper.translate.fluent_bit_outputs import apply_output
from shipper.translate.output import Pipeline, not_translated

__all__ = ["read", "translate"]


def translate(plugins: list[Plugin], origin: str) -> Pipeline:
    out = Pipeline(origin, settings={"data_dir": "/var/lib/shipper"})
    parsers = {p.get("name"): p for p in plugins if p.kind == "PARSER"}
    for plugin in plugins:
        if plugin.kind == "SERVICE":
            _service(plugin, out)
    made = [_input(p, out, i) for i, p in enumerate(x for x in plugins if x.kind == "INPUT")]
    inputs = [each for each in made if each is not None]
    for each in inputs:
        for name in each.parsers:
            _parse_after(each, name, parsers, out)
    for plugin in (p for p in plugins if p.kind == "FILTER"):
        apply_filter(plugin, out, inputs, parsers)
    for plugin in (p for p in plugins if p.kind == "OUTPUT"):
        apply_output(plugin, out, inputs)
    for plugin in plugins:
        if plugin.kind == "MULTILINE_PARSER":
            out.notes.append(not_translated(f"multiline parser {plugin.get('name')!r}", "use multiline `mode: "
                                            "pattern` with its start rule, or `mode: exceptions`, on the source"))
    if not out.components["sinks"]:
        out.notes.append("no output was translated: the configuration needs a sink before it runs")
    return out


def _service(plugin: Plugin, out: Pipeline) -> None:
    level = plugin.get("log_level").lower()
    if level:
        out.settings["log"] = {"level": {"warn": "warning", "trace": "debug", "off": "error"}.get(level, level)}
    if plugin.on("http_server"):
        out.settings["api"] = {"address": f"{plugin.get('http_listen', '0.0.0.0')}:{plugin.get('http_port', '2020')}"}
    storage = plugin.get("storage.path")
    if storage:
        out.notes.append(f"storage.path {storage}: records wait in the spool under data_dir, always on disk")
    for key in ("parsers_file", "flush", "daemon", "grace"):  # read above, or the agent's own timing
        plugin.get(key)
    for note in plugin.undecided:
        out.notes.append(f"[SERVICE] {note}")
    for key, value in plugin.left():
        out.notes.append(not_translated(f"[SERVICE] {key} {value}"))


def _input(plugin: Plugin, out: Pipeline, index: int) -> Input | None:
    name = plugin.name
    tag = plugin.get("tag") or f"{name}.{index}"
    notes: list[str] = []
    after: list[str] = []
    if name == "tail":
        options = _tail(plugin, notes, after)
    elif name == "systemd":
        options = _systemd(plugin, notes)
    elif name == "forward":
        options = {"type": "forward", "address": f"{plugin.get('listen', '0.0.0.0')}:{plugin.get('port', '24224')}"}
        for ours_key, theirs in (("shared_key", "shared_key"), ("self_hostname", "self_hostname")):
            if plugin.get(theirs):
                options[ours_key] = plugin.get(theirs)
        if plugin.on("tls"):
            options["tls"] = {"cert_file": plugin.get("tls.crt_file"), "key_file": plugin.get("tls.key_file")}
    else:
        out.notes.append(not_translated(f"[INPUT] {name}", "no such source here"))
        return None
    notes += plugin.undecided + [not_translated(f"{key} {value}") for key, value in plugin.left()]
    source_id = out.add("sources", plugin.get("alias") or identifier(name), options, notes)
    return Input(source_id, tag, source_id, after)


def _parse_after(each: Input, name: str, parsers: dict[str, Plugin], out: Pipeline) -> None:
    """A tail's `Parser` as a parse transform of its message, right after the source."""
    notes: list[str] = []
    options = parse_options(name, "message", parsers, notes)
    if options is None:
        out.find(each.source_id).notes += notes
        return
    each.stage = out.add("transforms", identifier(f"{each.source_id}_{name}"), {"inputs": [each.stage], **options},
                         [f"the tail's Parser {name}", *notes])


def _tail(plugin: Plugin, notes: list[str], after: list[str]) -> dict[str, Any]:
    paths = [p.strip() for p in plugin.get("path").split(",") if p.strip()]
    parsers = [p.strip().lower() for p in (plugin.get("multiline.parser") + "," + plugin.get("parser")).split(",")
               if p.strip()]
    containers = any(p.startswith(CONTAINER_PATHS) for p in paths) or any(p in CONTAINER_PARSERS for p in parsers)
    options: dict[str, Any] = {"type": "kubernetes_logs" if containers else "file", "include": paths}
    excluded = [p.strip() for p in plugin.get("exclude_path").split(",") if p.strip()]
    if excluded:
        options["exclude"] = excluded
    options["read_from"] = "beginning" if plugin.on("read_from_head") else "end"
    if plugin.get("refresh_interval"):
        options["discover_interval"] = f"{plugin.get('refresh_interval')}s"
    if plugin.get("buffer_max_size"):
        options["max_line_size"] = size_of(plugin.get("buffer_max_size"))
    languages = [MULTILINE_LANGUAGES[p] for p in parsers if p in MULTILINE_LANGUAGES]
    if languages:
        options["multiline"] = {"mode": "exceptions", "languages": languages}
    for parser in (p.strip() for p in plugin.get("parser").split(",") if p.strip()):
        if parser.lower() == "json" and not containers:
            options["format"] = "json"
        elif parser.lower() not in CONTAINER_PARSERS:
            after.append(parser)
    for parser in (p.strip().lower() for p in plugin.get("multiline.parser").split(",") if p.strip()):
        if parser not in CONTAINER_PARSERS and parser not in MULTILINE_LANGUAGES:
            notes.append(not_translated(f"multiline.parser {parser}", "use multiline `mode: pattern` with its start "
                                        "rule"))
    if plugin.get("db"):
        notes.append(f"DB {plugin.get('db')}: offsets live in data_dir; before the first start run `shipper "
                     f"import-offsets --config <this file> --fluent-bit-db {plugin.get('db')}` to continue where "
                     "Fluent Bit stopped")
    if plugin.get("skip_long_lines"):
        notes.append("Skip_Long_Lines: long lines are split into pieces of max_line_size, never skipped")
    if plugin.get("key"):
        notes.append(f"Key {plugin.get('key')}: the line is the record's `message`")
    if plugin.get("path_key"):
        notes.append(f"Path_Key {plugin.get('path_key')}: the file's path is the record's `file` field")
    for key in ("mem_buf_limit", "buffer_chunk_size", "storage.type", "db.sync", "db.locking"):
        if plugin.get(key):
            notes.append(f"{key} {plugin.get(key)}: not needed here (records wait in the spool on disk)")
    for key in ("rotate_wait", "docker_mode", "inotify_watcher", "skip_empty_lines"):
        if plugin.get(key):
            notes.append(f"{key} {plugin.get(key)}: not needed here (rotation, partial lines and empty lines are "
                         "handled as they come)")
    return options


def _systemd(plugin: Plugin, notes: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"type": "journald"}
    if plugin.get("path"):
        options["directory"] = plugin.get("path")
    units: list[str] = []
    matches: dict[str, list[str]] = {}
    for condition in plugin.all("systemd_filter"):
        key, _, value = condition.partition("=")
        if key == "_SYSTEMD_UNIT":
            units.append(value)
        else:
            matches.setdefault(key, []).append(value)
    if units:
        options["units"] = units
    if matches:
        options["matches"] = matches
    if plugin.get("systemd_filter_type").lower() == "or" and units and matches:
        notes.append(not_translated("Systemd_Filter_Type Or", "units and matches must all hold here"))
    options["read_from"] = "end" if plugin.on("read_from_tail") else "beginning"
    if plugin.get("db"):
        notes.append(f"DB {plugin.get('db')}: the journal cursor lives in data_dir")
    if plugin.get("strip_underscores"):
        notes.append("Strip_Underscores: journal fields are under `journald` with our names (docs/records.md)")
    if plugin.get("max_entries"):
        options["batch_size"] = int(plugin.get("max_entries"))
    return options

"""Fluent Bit's filters as transforms (or as options of the sources they match: kubernetes, multiline)."""

from __future__ import annotations

import re
from typing import Any

from shipper.regex import compile_regex
from shipper.translate.fluent_bit_config import (
    CONTAINER_PARSERS,
    MULTILINE_LANGUAGES,
    PARSERS,
    Input,
    Plugin,
    field_of,
    identifier,
    matches,
)
from shipper.translate.output import Pipeline, not_translated


def apply_filter(plugin: Plugin, out: Pipeline, inputs: list[Input], parsers: dict[str, Plugin]) -> None:
    name = plugin.name
    matched = [each for each in inputs if matches(plugin, each.tag)]
    if not matched:
        out.notes.append(f"[FILTER] {name} (Match {plugin.get('match')!r}) matches no input: left out")
        return
    notes: list[str] = []
    options: dict[str, Any] | None = None
    if name == "kubernetes":
        options = _kubernetes(plugin, out, matched, notes)  # metadata is the source's; Merge_Log a parse
    elif name == "parser":
        options = _parser(plugin, parsers, notes)
    elif name == "grep":
        options = _grep(plugin)
    elif name in ("modify", "record_modifier"):
        options = _modify(plugin, notes)
    elif name == "nest":
        if plugin.get("operation").lower() == "lift":
            options = {"type": "fields", "lift": [field_of(plugin.get("nested_under"))]}
            if plugin.get("add_prefix"):
                notes.append(not_translated(f"Add_prefix {plugin.get('add_prefix')}", "lifted keys keep their names"))
        else:
            notes.append(not_translated(f"nest operation {plugin.get('operation')}"))
    elif name == "throttle":
        options = {"type": "throttle", "limit": int(float(plugin.get("rate", "1"))),
                   "window": f"{plugin.get('interval', '1s')}"}
        if plugin.get("window"):
            notes.append(f"Window {plugin.get('window')}: Fluent Bit averages the rate over that many intervals; "
                         "here each window passes at most `limit` records")
    elif name == "multiline":
        _multiline(plugin, out, matched, notes)
    else:
        notes.append(not_translated(f"[FILTER] {name}", "no such transform here"))
    left = [f"{key} {value}" for key, value in plugin.left()]
    if options is None and name not in ("kubernetes", "multiline", "parser", "modify", "record_modifier", "nest"):
        left = [f"[FILTER] {name} {each}" for each in left]
    notes += plugin.undecided + [not_translated(each) for each in left]
    if options is None:
        for note in notes:
            out.notes.append(note if note.startswith("NOT TRANSLATED: [FILTER]") else f"[FILTER] {name}: {note}")
        return
    stages = sorted({each.stage for each in matched})
    joined = [each.source_id for each in inputs if each.stage in stages and each not in matched]
    if joined:
        notes.append(f"also applies to the records of {', '.join(joined)}: an earlier filter joined their streams")
    wanted = plugin.get("alias") or ("merge_log" if name == "kubernetes" else name)
    transform_id = out.add("transforms", identifier(wanted), {"inputs": stages, **options}, notes)
    for each in inputs:
        if each.stage in stages:
            each.stage = transform_id


def _kubernetes(plugin: Plugin, out: Pipeline, matched: list[Input], notes: list[str]) -> dict[str, Any] | None:
    """Metadata comes with the kubernetes_logs source here: its options, not a transform."""
    for each in matched:
        source = out.find(each.source_id)
        if source.options["type"] != "kubernetes_logs":
            notes.append(f"input {each.source_id} does not read container logs: no metadata to add")
            continue
        api: dict[str, Any] = {}
        if plugin.on("annotations", default=True):
            api["annotations"] = ["*"]
        if plugin.on("namespace_labels") or plugin.on("namespace_annotations"):
            api["namespace_labels"] = True
        source.options["api"] = api
        source.options["honor_exclude_annotation"] = plugin.on("k8s-logging.exclude")
        if plugin.on("k8s-logging.parser"):
            source.options["honor_annotations"] = ["parser"]
            source.notes.append("K8S-Logging.Parser On: pods name their parser in `shipper.io/parser` "
                                "(not fluentbit.io/parser)")
        if plugin.on("k8s-logging.exclude"):
            source.notes.append("K8S-Logging.Exclude On: pods opt out with `shipper.io/exclude: \"true\"` "
                                "(not fluentbit.io/exclude)")
    plugin.get("kube_tag_prefix")
    carried = [f"{key} {plugin.get(key)}" for key in ("kube_url", "kube_ca_file", "kube_token_file", "use_kubelet",
                                                       "kubelet_port", "buffer_size", "labels", "keep_log",
                                                       "kube_meta_cache_ttl", "merge_log_trim") if plugin.get(key)]
    if carried:
        notes.append(f"{', '.join(carried)}: not needed here (the source's `api` reads the API server with the pod's "
                     "service account; labels are always copied, the message always kept)")
    if not plugin.on("merge_log"):
        return None
    notes.append("Merge_Log On: the message parsed as JSON into the record's fields")
    merged: dict[str, Any] = {"type": "parse", "format": "json"}
    if plugin.get("merge_log_key"):
        merged["target"] = plugin.get("merge_log_key")
    return merged


def _parser(plugin: Plugin, parsers: dict[str, Plugin], notes: list[str]) -> dict[str, Any] | None:
    key = plugin.get("key_name", "log")
    names = plugin.all("parser")
    if not names:
        return None
    if len(names) > 1:
        notes.append(not_translated(f"parsers after the first ({', '.join(names[1:])})",
                                    "one format per parse transform: add more transforms"))
    plugin.get("reserve_data"), plugin.get("preserve_key")  # the record's other fields and message always stay
    return parse_options(names[0], field_of(key), parsers, notes)


def parse_options(name: str, field_path: str, parsers: dict[str, Plugin], notes: list[str]) -> dict[str, Any] | None:
    """A parse transform's options for Fluent Bit's parser `name` (one of [PARSER] or a known one)."""
    options: dict[str, Any] = {"type": "parse", "field": field_path}
    custom = parsers.get(name)
    if custom is not None:
        fmt = custom.get("format").lower()
        if fmt == "regex":
            options.update(format="regex", pattern=re.sub(r"\(\?<(\w+)>", r"(?P<\1>", custom.get("regex")))
        elif fmt in ("json", "logfmt"):
            options["format"] = fmt
        else:
            notes.append(not_translated(f"parser {name} (format {fmt})"))
            return None
        if custom.get("time_key"):
            options["time_key"] = custom.get("time_key")
            options["time_format"] = custom.get("time_format") or "rfc3339"
    elif PARSERS.get(name.lower()):
        options["format"] = PARSERS[name.lower()]
    else:
        notes.append(not_translated(f"parser {name}", "no such format here; a `regex` parse with its pattern"))
        return None
    if options.get("pattern"):
        try:
            compile_regex(options["pattern"])
        except ValueError as error:
            notes.append(not_translated(f"parser {name} regex", f"{error}; rewrite it without lookaround"))
            return None
    return options


def _grep(plugin: Plugin) -> dict[str, Any]:
    include = [{"field": field_of(k), "regex": r} for k, _, r in (x.partition(" ") for x in plugin.all("regex"))]
    exclude = [{"field": field_of(k), "regex": r} for k, _, r in (x.partition(" ") for x in plugin.all("exclude"))]
    logical = plugin.get("logical_op", "legacy").lower()
    options: dict[str, Any] = {"type": "filter"}
    if include:
        options["include"] = include[0] if len(include) == 1 else {("any" if logical == "or" else "all"): include}
    if exclude:
        options["exclude"] = exclude[0] if len(exclude) == 1 else {("all" if logical == "and" else "any"): exclude}
    return options


def _modify(plugin: Plugin, notes: list[str]) -> dict[str, Any] | None:
    options: dict[str, Any] = {"type": "fields"}

    def pairs(key: str) -> dict[str, str]:
        return {field_of(a): b.strip() for a, _, b in (x.partition(" ") for x in plugin.all(key))}

    for ours_key, theirs in (("add", "add"), ("set", "set"), ("set", "record")):
        if pairs(theirs):
            options.setdefault(ours_key, {}).update(pairs(theirs))
    for theirs in ("rename", "hard_rename"):
        if pairs(theirs):
            options.setdefault("rename", {}).update({a: field_of(b) for a, b in pairs(theirs).items()})
    for theirs in ("copy", "hard_copy"):
        if pairs(theirs):
            options.setdefault("copy", {}).update({a: field_of(b) for a, b in pairs(theirs).items()})
    removed = [field_of(k) for key in ("remove", "remove_key") for k in plugin.all(key)]
    if removed:
        options["remove"] = removed
    for key in ("condition", "remove_wildcard", "remove_regex", "allowlist_key", "whitelist_key", "uuid_key"):
        for value in plugin.all(key):
            notes.append(not_translated(f"{key} {value}"))
    return options if len(options) > 1 else None


def _multiline(plugin: Plugin, out: Pipeline, matched: list[Input], notes: list[str]) -> None:
    """The multiline filter: grouping happens in the source here."""
    names = [n.strip().lower() for n in plugin.get("multiline.parser").split(",") if n.strip()]
    languages = [MULTILINE_LANGUAGES[n] for n in names if n in MULTILINE_LANGUAGES]
    plugin.get("multiline.key_content"), plugin.get("mode")
    for name in (n for n in names if n not in MULTILINE_LANGUAGES and n not in CONTAINER_PARSERS):
        notes.append(not_translated(f"multiline parser {name}", "use multiline `mode: pattern` on the source"))
    for each in matched:
        source = out.find(each.source_id)
        if languages and source.options["type"] in ("file", "kubernetes_logs"):
            source.options["multiline"] = {"mode": "exceptions", "languages": languages}
            source.notes.append(f"the multiline filter ({', '.join(languages)}): grouped as the source reads")

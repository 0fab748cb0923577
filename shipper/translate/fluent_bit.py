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

import fnmatch
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shipper.layouts import ours
from shipper.regex import compile_regex
from shipper.translate.output import Pipeline, not_translated

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
        plugins = _read_classic(text, path.parent, {})
    for service in [p for p in plugins if p.kind == "SERVICE"]:
        for name in service.all("parsers_file"):
            parsers = path.parent / name
            if parsers.exists():
                plugins += _read_classic(parsers.read_text(), parsers.parent, {})
            else:
                service.undecided.append(f"Parsers_File {name}: not found beside the configuration; its parsers "
                                         "are not translated")
    return plugins


def _read_classic(text: str, base: Path, variables: dict[str, str]) -> list[Plugin]:
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
                plugins += _read_classic(Path(included).read_text(), Path(included).parent, variables)
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


# -- the pipeline ---------------------------------------------------------------------------------


@dataclass
class Input:
    source_id: str
    tag: str
    stage: str  # where its records are so far: its source, or the last transform applied to them
    parsers: list[str] = field(default_factory=list)  # the tail's `Parser`s: parse transforms after it


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
        _filter(plugin, out, inputs, parsers)
    for plugin in (p for p in plugins if p.kind == "OUTPUT"):
        _output(plugin, out, inputs)
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
    source_id = out.add("sources", plugin.get("alias") or _identifier(name), options, notes)
    return Input(source_id, tag, source_id, after)


def _parse_after(each: Input, name: str, parsers: dict[str, Plugin], out: Pipeline) -> None:
    """A tail's `Parser` as a parse transform of its message, right after the source."""
    notes: list[str] = []
    options = _parse_options(name, "message", parsers, notes)
    if options is None:
        out.find(each.source_id).notes += notes
        return
    each.stage = out.add("transforms", _identifier(f"{each.source_id}_{name}"), {"inputs": [each.stage], **options},
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
        options["max_line_size"] = _size(plugin.get("buffer_max_size"))
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


def _filter(plugin: Plugin, out: Pipeline, inputs: list[Input], parsers: dict[str, Plugin]) -> None:
    name = plugin.name
    matched = [each for each in inputs if _matches(plugin, each.tag)]
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
            options = {"type": "fields", "lift": [_field(plugin.get("nested_under"))]}
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
    transform_id = out.add("transforms", _identifier(wanted), {"inputs": stages, **options}, notes)
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
    return _parse_options(names[0], _field(key), parsers, notes)


def _parse_options(name: str, field_path: str, parsers: dict[str, Plugin], notes: list[str]) -> dict[str, Any] | None:
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
    include = [{"field": _field(k), "regex": r} for k, _, r in (x.partition(" ") for x in plugin.all("regex"))]
    exclude = [{"field": _field(k), "regex": r} for k, _, r in (x.partition(" ") for x in plugin.all("exclude"))]
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
        return {_field(a): b.strip() for a, _, b in (x.partition(" ") for x in plugin.all(key))}

    for ours_key, theirs in (("add", "add"), ("set", "set"), ("set", "record")):
        if pairs(theirs):
            options.setdefault(ours_key, {}).update(pairs(theirs))
    for theirs in ("rename", "hard_rename"):
        if pairs(theirs):
            options.setdefault("rename", {}).update({a: _field(b) for a, b in pairs(theirs).items()})
    for theirs in ("copy", "hard_copy"):
        if pairs(theirs):
            options.setdefault("copy", {}).update({a: _field(b) for a, b in pairs(theirs).items()})
    removed = [_field(k) for key in ("remove", "remove_key") for k in plugin.all(key)]
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


def _output(plugin: Plugin, out: Pipeline, inputs: list[Input]) -> None:
    name = plugin.name
    matched = [each for each in inputs if _matches(plugin, each.tag)]
    notes: list[str] = []
    options: dict[str, Any] | None
    if name == "cloudwatch_logs":
        options = _cloudwatch(plugin, notes)
    elif name == "syslog":
        options = _syslog(plugin, notes)
    elif name == "http":
        options = _http(plugin, notes)
    elif name in ("kinesis_firehose", "kinesis_streams"):
        options = _kinesis(plugin, notes)
    elif name == "stdout":
        options = {"type": "console", "encoding": "json"}
        plugin.get("format")
    else:
        why = "not built yet: Firehose delivers to S3 meanwhile" if name == "s3" else "no such sink here"
        out.notes.append(not_translated(f"[OUTPUT] {name} (Match {plugin.get('match')!r})", why))
        return
    if not matched:
        out.notes.append(f"[OUTPUT] {name} (Match {plugin.get('match')!r}) matches no input: left out")
        return
    for key in IGNORED_KEYS:
        if plugin.get(key):
            notes.append(f"{key}: another agent's tuning, not needed here (records wait on disk)")
    notes += plugin.undecided + [not_translated(f"{key} {value}") for key, value in plugin.left()]
    by_stream: dict[str | None, tuple[list[Input], list[str]]] = {None: (matched, [])}
    if "stream_name" in options and options["stream_name"] is None:  # named by tag: one sink per naming
        by_stream = dict(_streams_by_tag(plugin.get("log_stream_prefix"), matched, out).items())
    for stream, (inputs_of, stream_notes) in by_stream.items():
        made = {**options, "stream_name": stream} if stream is not None else options
        stages = sorted({each.stage for each in inputs_of})
        out.add("sinks", _identifier(plugin.get("alias") or name), {"inputs": stages, **made}, notes + stream_notes)


def _streams_by_tag(prefix: str, matched: list[Input],
                    out: Pipeline) -> dict[str | None, tuple[list[Input], list[str]]]:
    """Fluent Bit names a stream `log_stream_prefix` + the record's tag: a literal tag is kept; a tag's `*`
    is the journal entry's unit for the systemd input; for container logs (the file path in dots) the pod
    and container name it here, for other files the path. One sink per naming."""
    streams: dict[str | None, tuple[list[Input], list[str]]] = {}
    for each in matched:
        kind = out.find(each.source_id).options["type"]
        notes: list[str] = []
        if "*" not in each.tag:
            stream = prefix + each.tag
        elif kind == "journald":
            stream = prefix + each.tag.replace("*", "{_SYSTEMD_UNIT}")
        elif kind == "kubernetes_logs":
            stream = prefix + "{kubernetes.pod_name}.{kubernetes.container_name}"
            notes.append(f"log_stream_prefix {prefix}: Fluent Bit appends the tag ({each.tag} with the file's path); "
                         "here the pod and container name the stream")
        else:
            stream = prefix + each.tag.replace("*", "{file}")
            notes.append(f"log_stream_prefix {prefix}: the tag's `*` is the file's path as it is (Fluent Bit writes "
                         "its slashes as dots)")
        entry = streams.setdefault(stream, ([], []))
        entry[0].append(each)
        entry[1].extend(note for note in notes if note not in entry[1])
    return streams


def _cloudwatch(plugin: Plugin, notes: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"type": "cloudwatch_logs", "layout": "fluent_bit"}
    _aws(plugin, options)
    group, group_template = plugin.get("log_group_name"), _template(plugin.get("log_group_template"), notes)
    stream, stream_template = plugin.get("log_stream_name"), _template(plugin.get("log_stream_template"), notes)
    options["group_name"] = group_template or group
    if group_template and group:
        options["fallback_group_name"] = group
    if stream_template:
        options["stream_name"] = stream_template
        if stream:
            options["fallback_stream_name"] = stream
    elif stream:
        options["stream_name"] = stream
    else:
        options["stream_name"] = None  # by the tag of each input: _streams_by_tag
    if plugin.get("log_key"):
        options["encoding"] = "text"
        if plugin.get("log_key") not in ("log", "message"):
            notes.append(not_translated(f"log_key {plugin.get('log_key')}", "the message is sent"))
    else:
        options["encoding"] = "json"
    if plugin.on("auto_create_group"):
        options["create_missing_group"] = True
    if plugin.get("log_retention_days"):
        options["retention_days"] = int(plugin.get("log_retention_days"))
    if plugin.get("log_group_class"):
        options["log_group_class"] = plugin.get("log_group_class").upper()
    for key in ("metric_namespace", "metric_dimensions", "log_format"):
        if plugin.get(key):
            notes.append(not_translated(f"{key} {plugin.get(key)}", "embedded metric format"))
    plugin.get("auto_retry_requests"), plugin.get("sts_endpoint")  # retries are forever here
    return options


def _aws(plugin: Plugin, options: dict[str, Any]) -> None:
    if plugin.get("region"):
        options["region"] = plugin.get("region")
    if plugin.get("endpoint"):
        endpoint = plugin.get("endpoint")
        options["endpoint"] = endpoint if "://" in endpoint else f"https://{endpoint}"
    if plugin.get("role_arn"):
        options["assume_role"] = {"role_arn": plugin.get("role_arn")}
        if plugin.get("external_id"):
            options["assume_role"]["external_id"] = plugin.get("external_id")


def _syslog(plugin: Plugin, notes: list[str]) -> dict[str, Any]:
    mode = plugin.get("mode", "udp").lower()
    tls = plugin.on("tls") or mode == "tls"
    options: dict[str, Any] = {"type": "syslog", "layout": "fluent_bit",
                               "address": f"{plugin.get('host', '127.0.0.1')}:{plugin.get('port', '514')}",
                               "mode": "tls" if tls else "tcp"}
    if mode == "udp":
        notes.append("mode udp: sent over TCP here (syslog over UDP loses records)")
    if plugin.get("syslog_format", "rfc5424").lower() == "rfc3164":
        notes.append(not_translated("syslog_format rfc3164", "RFC 5424 messages are sent"))
    if plugin.get("syslog_maxsize"):
        options["max_message_size"] = _size(plugin.get("syslog_maxsize"))
    for ours_key, theirs in (("severity_field", "syslog_severity_key"), ("facility_field", "syslog_facility_key")):
        if plugin.get(theirs):
            options[ours_key] = _field(plugin.get(theirs))
    for ours_key, theirs in (("hostname", "syslog_hostname_key"), ("app_name", "syslog_appname_key"),
                             ("procid", "syslog_procid_key"), ("msgid", "syslog_msgid_key")):
        if plugin.get(theirs):
            options[ours_key] = "{" + ".".join(_field(plugin.get(theirs)).split(".")) + "}"
    message_key = plugin.get("syslog_message_key")
    if message_key and message_key not in ("log", "message"):
        notes.append(not_translated(f"syslog_message_key {message_key}", "the record's message is sent"))
    tls_options = _tls(plugin)
    if tls and tls_options:
        options["tls"] = tls_options
    return options


def _http(plugin: Plugin, notes: list[str]) -> dict[str, Any]:
    scheme = "https" if plugin.on("tls") else "http"
    uri = plugin.get("uri", "/")
    options: dict[str, Any] = {
        "type": "http", "layout": "fluent_bit",
        "uri": f"{scheme}://{plugin.get('host', '127.0.0.1')}:{plugin.get('port', '80')}{uri}"}
    fmt = plugin.get("format", "msgpack").lower()
    if fmt in ("json_lines", "json_stream"):
        options["encoding"] = "ndjson"
    elif fmt == "json":
        options["encoding"] = "json_array"
    else:
        notes.append(not_translated(f"format {fmt}", "ndjson is sent"))
    headers = {k: v.strip() for k, _, v in (h.partition(" ") for h in plugin.all("header"))}
    if headers:
        options["headers"] = headers
    if plugin.get("http_user"):
        options["auth"] = {"strategy": "basic", "user": plugin.get("http_user"), "password": plugin.get("http_passwd")}
    if plugin.get("compress").lower() == "gzip":
        options["compression"] = "gzip"
    if scheme == "http" and options.get("auth"):
        options["allow_insecure"] = True
        notes.append("credentials over plain http, as configured (allow_insecure)")
    tls_options = _tls(plugin)
    if scheme == "https" and tls_options:
        options["tls"] = {k: v for k, v in tls_options.items() if k != "server_name"}
    plugin.get("json_date_key"), plugin.get("json_date_format")  # each record carries `time` with the layout
    return options


def _kinesis(plugin: Plugin, notes: list[str]) -> dict[str, Any]:
    firehose = plugin.name == "kinesis_firehose"
    options: dict[str, Any] = {"type": "firehose" if firehose else "kinesis_streams", "layout": "fluent_bit"}
    _aws(plugin, options)
    if firehose:
        options["delivery_stream"] = plugin.get("delivery_stream")
    else:
        options["stream_name"] = plugin.get("stream")
    if plugin.get("compression").lower() == "gzip":
        options["compression"] = "gzip"
    elif plugin.get("compression"):
        notes.append(not_translated(f"compression {plugin.get('compression')}", "gzip or none here"))
    if plugin.get("log_key"):
        options["encoding"] = "text"
    if plugin.get("time_key"):
        notes.append(f"time_key {plugin.get('time_key')}: each record carries `time` with layout fluent_bit")
    plugin.get("time_key_format")
    return options


def _tls(plugin: Plugin) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for ours_key, theirs in (("ca_file", "tls.ca_file"), ("cert_file", "tls.crt_file"), ("key_file", "tls.key_file"),
                             ("server_name", "tls.vhost")):
        if plugin.get(theirs):
            options[ours_key] = plugin.get(theirs)
    if plugin.get("tls.verify") and not plugin.on("tls.verify"):
        options["verify_certificate"] = False
    return options


# -- names ----------------------------------------------------------------------------------------


def _matches(plugin: Plugin, tag: str) -> bool:
    pattern = plugin.get("match")
    if pattern:
        return fnmatch.fnmatchcase(tag, pattern)
    regex = plugin.get("match_regex")
    return bool(regex) and re.fullmatch(regex, tag) is not None


_ACCESSOR = re.compile(r"\$([A-Za-z0-9_.-]+)((?:\[['\"][^'\"]+['\"]\])*)")


def _field(key: str) -> str:
    """A Fluent Bit key or record accessor (`log`, `$kubernetes['namespace_name']`) as our field path."""
    key = key.strip()
    match = _ACCESSOR.fullmatch(key)
    parts = ([match[1], *re.findall(r"\[['\"]([^'\"]+)['\"]\]", match[2])] if match else [key])
    mapped = ours(tuple(parts), "fluent_bit")
    return ".".join(mapped[1] if mapped else parts)


def _template(template: str, notes: list[str]) -> str:
    """A log_group_template / log_stream_template with our braces (names stay Fluent Bit's: the layout
    takes them); `$tag` has no equivalent here."""
    if not template:
        return ""
    if re.search(r"\$tag|\$TAG", template):
        notes.append(not_translated(f"template {template}", "no tags here: name the group by record fields"))
        return ""
    return _ACCESSOR.sub(lambda m: "{" + ".".join([m[1], *re.findall(r"\[['\"]([^'\"]+)['\"]\]", m[2])]) + "}",
                         template)


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "component"


SIZE_UNITS = {"k": "KiB", "m": "MiB", "g": "GiB"}


def _size(value: str) -> str | int:
    """Fluent Bit's sizes (`32k`, `5M`, `1MB`: powers of 1024) as ours."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", value)
    if match is None:
        return value
    return f"{match[1]}{SIZE_UNITS[match[2].lower()]}" if match[2] else int(match[1])

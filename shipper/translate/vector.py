"""Vector's configuration (YAML or TOML) as a shipper configuration.

Vector's graph is ours (`inputs` on every transform and sink, a route's outputs `<id>.<name>`), so
ids and edges carry over; sinks write with `layout: vector`, so templates and encoded records keep
Vector's names (`message`, `kubernetes.pod_namespace`). `remap` programs are read statement by
statement for the common VRL forms (parse_json!, parse_regex!, parse_logfmt!, parse_nginx_log!,
parse_apache_log!, parse_klog!, del, assignment and renaming), `filter` and `route` conditions for
comparisons, `match`, `contains`, `exists` and `&&`/`||`/`!` of those; any other statement is a NOT
TRANSLATED comment (output.py).
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from shipper.translate.output import Pipeline, not_translated
from shipper.translate.vector_sinks import made_sink, vector_field, vector_template


def read(path: Path) -> dict[str, Any]:
    text = path.read_text()
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text) or {}


def translate(config: dict[str, Any], origin: str) -> Pipeline:
    out = Pipeline(origin, settings={"data_dir": "/var/lib/shipper"})
    if config.get("data_dir"):
        out.notes.append(f"data_dir {config['data_dir']}: Vector's; shipper keeps its spool and checkpoints in its own")
    ids = [*config.get("sources", {}), *config.get("transforms", {})]
    for source_id, options in config.get("sources", {}).items():
        _source(source_id, dict(options), out)
    for transform_id, options in config.get("transforms", {}).items():
        _transform(transform_id, dict(options), out, ids)
    for sink_id, options in config.get("sinks", {}).items():
        _sink(sink_id, dict(options), out, ids)
    for key in config:
        if key not in ("sources", "transforms", "sinks", "data_dir", "api", "schema", "acknowledgements"):
            out.notes.append(not_translated(f"{key}: {config[key]!r}"))
    if isinstance(config.get("api"), dict) and config["api"].get("enabled"):
        out.settings["api"] = {"address": config["api"].get("address", "127.0.0.1:8686")}
    return out


def _source(source_id: str, options: dict[str, Any], out: Pipeline) -> None:
    kind = options.pop("type", "")
    notes: list[str] = []
    made: dict[str, Any]
    if kind == "file":
        made = {"type": "file", "include": options.pop("include", [])}
        if options.get("exclude"):
            made["exclude"] = options.pop("exclude")
        made["read_from"] = options.pop("read_from", "beginning")
        _multiline(options.pop("multiline", None), made, notes)
    elif kind == "kubernetes_logs":
        made = {"type": "kubernetes_logs", "api": {}}
        if options.get("exclude_paths_glob_patterns"):
            made["exclude"] = options.pop("exclude_paths_glob_patterns")
        if options.get("kube_config_file"):
            made["api"]["kubeconfig"] = options.pop("kube_config_file")
        if options.get("self_node_name"):
            made["api"]["node_name"] = options.pop("self_node_name").replace("${VECTOR_SELF_NODE_NAME}",
                                                                              "${NODE_NAME}")
        selector = options.pop("extra_label_selector", "")
        for term in (t.strip() for t in selector.split(",") if t.strip()):
            key, sign, value = re.split(r"(!=|==|=)", term, maxsplit=1) if "=" in term else (term, "", "")
            bucket = "exclude_pod_labels" if sign == "!=" else "include_pod_labels"
            if sign:
                made.setdefault(bucket, {})[key.strip()] = value.strip()
            else:
                notes.append(not_translated(f"extra_label_selector term {term!r}"))
        options.pop("auto_partial_merge", None)
        if options.pop("read_from", None) is not None:
            notes.append("read_from: container logs are read from the beginning of a file not seen yet")
    elif kind == "journald":
        made = {"type": "journald"}
        for ours_key, theirs in (("units", "include_units"), ("directory", "journal_directory"),
                                 ("matches", "include_matches")):
            if options.get(theirs):
                made[ours_key] = options.pop(theirs)
        made["read_from"] = "end" if options.pop("since_now", False) else "beginning"
        if options.get("exclude_units"):
            notes.append(not_translated(f"exclude_units {options.pop('exclude_units')}", "list the units to read"))
        options.pop("current_boot_only", None)
    elif kind == "fluent":
        made = {"type": "forward", "address": options.pop("address", "0.0.0.0:24224")}
    else:
        out.notes.append(not_translated(f"source {source_id} (type {kind})", "no such source here"))
        return
    options.pop("data_dir", None)
    notes += [not_translated(f"{key}: {value!r}") for key, value in options.items()]
    out.add("sources", source_id, made, notes)


def _multiline(multiline: Any, made: dict[str, Any], notes: list[str]) -> None:
    if not multiline:
        return
    if multiline.get("mode") == "halt_before" and multiline.get("condition_pattern"):
        made["multiline"] = {"mode": "pattern", "start_pattern": multiline["condition_pattern"]}
        if multiline.get("timeout_ms"):
            made["multiline"]["timeout"] = f"{multiline['timeout_ms']}ms"
    else:
        notes.append(not_translated(f"multiline {multiline!r}", "mode: pattern starts a record at each match"))


def _inputs(options: dict[str, Any], ids: list[str]) -> list[str]:
    """Vector's inputs, wildcards expanded (`app*`)."""
    found = []
    for name in options.pop("inputs", []):
        found += [i for i in ids if fnmatch.fnmatchcase(i, name)] if "*" in name else [name]
    return found


def _transform(transform_id: str, options: dict[str, Any], out: Pipeline, ids: list[str]) -> None:
    kind = options.pop("type", "")
    inputs = _inputs(options, ids)
    if kind == "remap":
        _remap(transform_id, options, inputs, out)
        return
    notes: list[str] = []
    made: dict[str, Any] | None = None
    if kind == "filter":
        condition = _condition(_vrl_of(options.pop("condition", "")))
        if condition is None:
            notes.append(not_translated(f"condition {options!r}", "every record passes: write it as a `filter`"))
            made = {"type": "filter", "exclude": {"field": "message", "exists": False}}
        else:
            made = {"type": "filter", "include": condition}
    elif kind == "route":
        routes = {}
        for name, condition in options.pop("route", {}).items():
            made_condition = _condition(_vrl_of(condition))
            if made_condition is None:
                notes.append(not_translated(f"route {name}: {condition!r}", "nothing goes to this output"))
                made_condition = {"field": "message", "exists": False}
            routes[name] = made_condition
        made = {"type": "route", "routes": routes}
    elif kind == "throttle":
        made = {"type": "throttle", "limit": options.pop("threshold", 1), "window": f"{options.pop('window_secs', 1)}s"}
        if options.get("key_field"):
            made["key"] = vector_template(options.pop("key_field"))
    else:
        out.notes.append(not_translated(f"transform {transform_id} (type {kind})", "no such transform here"))
        return
    notes += [not_translated(f"{key}: {value!r}") for key, value in options.items()]
    out.add("transforms", transform_id, {"inputs": inputs, **made}, notes)


def _vrl_of(condition: Any) -> str:
    if isinstance(condition, dict):
        return str(condition.get("source", ""))
    return str(condition)


# -- VRL: the common statements of a remap program ---------------------------------------------------

_PATH = r"\.(?:[A-Za-z_][A-Za-z0-9_]*|\"[^\"]+\")(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\"[^\"]+\"))*"
_PARSE = re.compile(r"(\.|" + _PATH + r")\s*(\|?=)\s*(?:merge\(\.,\s*)?(parse_json|parse_regex|parse_logfmt|"
                    r"parse_nginx_log|parse_apache_log|parse_klog|parse_syslog)!?\((" + _PATH +
                    r")\s*(?:,\s*(.*?))?\)\)?\s*$")
_DEL = re.compile(r"del\((" + _PATH + r")\)$")
_MOVE = re.compile(r"(" + _PATH + r")\s*=\s*del\((" + _PATH + r")\)$")
_COPY = re.compile(r"(" + _PATH + r")\s*=\s*(" + _PATH + r")$")
_SET = re.compile(r"(" + _PATH + r")\s*=\s*(\"(?:[^\"\\]|\\.)*\"|-?\d+(?:\.\d+)?|true|false)$")


def _remap(transform_id: str, options: dict[str, Any], inputs: list[str], out: Pipeline) -> None:
    """A remap program as a chain of parse and fields transforms, one statement at a time."""
    source = str(options.pop("source", ""))
    notes = [not_translated(f"{key}: {value!r}") for key, value in options.items()]
    steps: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}
    for statement in _statements(source):
        parse = _parse_statement(statement)
        if parse is not None:
            if fields:
                steps.append({"type": "fields", **fields})
                fields = {}
            steps.append(parse)
            continue
        if not _fields_statement(statement, fields):
            notes.append(not_translated(f"VRL {statement}"))
    if fields:
        steps.append({"type": "fields", **fields})
    if not steps:
        steps.append({"type": "fields"})
        notes.append("nothing of this program is translated: records pass unchanged")
    for n, step in enumerate(steps):
        last = n == len(steps) - 1
        step_id = out.add("transforms", transform_id if last else f"{transform_id}_{n + 1}",
                          {"inputs": inputs, **step}, notes if last else [])
        inputs = [step_id]


def _statements(source: str) -> list[str]:
    lines = []
    for line in source.replace(";", "\n").splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith("#") else ""
        if line:
            lines.append(line)
    return lines


def _parse_statement(statement: str) -> dict[str, Any] | None:
    match = _PARSE.fullmatch(statement)
    if match is None:
        return None
    target, _, function, field, arguments = match.groups()
    formats = {"parse_json": "json", "parse_regex": "regex", "parse_logfmt": "logfmt", "parse_klog": "klog",
               "parse_syslog": "syslog_rfc5424"}
    made: dict[str, Any] = {"type": "parse", "field": vector_field(field)}
    if function == "parse_regex":
        pattern = re.fullmatch(r"r?['\"](.*)['\"]", (arguments or "").strip(), re.DOTALL)
        if pattern is None:
            return None
        made.update(format="regex", pattern=pattern[1])
    elif function in ("parse_nginx_log", "parse_apache_log"):
        if "combined" not in (arguments or ""):
            return None
        made["format"] = "nginx_combined" if function == "parse_nginx_log" else "apache_combined"
    else:
        made["format"] = formats[function]
    if target != ".":
        made["target"] = vector_field(target)
    return made


def _fields_statement(statement: str, fields: dict[str, Any]) -> bool:
    """`del(.a)`, `.a = del(.b)`, `.a = .b`, `.a = "text"` into a fields transform's options."""
    if (match := _DEL.fullmatch(statement)) is not None:
        fields.setdefault("remove", []).append(vector_field(match[1]))
    elif (match := _MOVE.fullmatch(statement)) is not None:
        fields.setdefault("rename", {})[vector_field(match[2])] = vector_field(match[1])
    elif (match := _COPY.fullmatch(statement)) is not None:
        fields.setdefault("copy", {})[vector_field(match[2])] = vector_field(match[1])
    elif (match := _SET.fullmatch(statement)) is not None:
        fields.setdefault("set", {})[vector_field(match[1])] = json.loads(match[2])
    else:
        return False
    return True


_COMPARE = re.compile(r"(" + _PATH + r")\s*(==|!=)\s*(\"(?:[^\"\\]|\\.)*\"|-?\d+(?:\.\d+)?|true|false)")
_MATCH = re.compile(r"(!?)match\((?:string!\()?(" + _PATH + r")\)?\s*,\s*r['\"](.*)['\"]\)")
_CONTAINS = re.compile(r"(!?)contains\((?:string!\()?(" + _PATH + r")\)?\s*,\s*(\"(?:[^\"\\]|\\.)*\")\)")
_EXISTS = re.compile(r"(!?)exists\((" + _PATH + r")\)")


def _condition(vrl: str) -> dict[str, Any] | None:
    """A VRL condition of comparisons, match, contains and exists, joined by && and || (no parentheses
    across them); None when it is anything else."""
    vrl = vrl.strip()
    if "||" in vrl:
        parts = [_condition(part) for part in vrl.split("||")]
        return None if None in parts else {"any": parts}
    if "&&" in vrl:
        parts = [_condition(part) for part in vrl.split("&&")]
        return None if None in parts else {"all": parts}
    if (m := _COMPARE.fullmatch(vrl)) is not None:
        test = {"field": vector_field(m[1]), "equals": json.loads(m[3])}
        return test if m[2] == "==" else {"not": test}
    if (m := _MATCH.fullmatch(vrl)) is not None:
        test = {"field": vector_field(m[2]), "regex": m[3]}
        return {"not": test} if m[1] else test
    if (m := _CONTAINS.fullmatch(vrl)) is not None:
        test = {"field": vector_field(m[2]), "regex": re.escape(json.loads(m[3]))}
        return {"not": test} if m[1] else test
    if (m := _EXISTS.fullmatch(vrl)) is not None:
        return {"field": vector_field(m[2]), "exists": not m[1]}
    return None


# -- sinks ----------------------------------------------------------------------------------------


def _sink(sink_id: str, options: dict[str, Any], out: Pipeline, ids: list[str]) -> None:
    kind = options.pop("type", "")
    inputs = _inputs(options, ids)
    notes: list[str] = []
    codec = (options.pop("encoding", {}) or {}).get("codec", "json")
    made = made_sink(kind, options, codec, notes)
    if made is None:
        out.notes.append(not_translated(f"sink {sink_id} (type {kind})", "no such sink here"))
        return
    for key in ("batch", "buffer", "healthcheck", "request", "acknowledgements"):
        if key in options:
            notes.append(f"{key}: another agent's tuning, not needed here (records wait on disk): {options.pop(key)!r}")
    notes += [not_translated(f"{key}: {value!r}") for key, value in options.items()]
    out.add("sinks", sink_id, {"inputs": inputs, **made}, notes)

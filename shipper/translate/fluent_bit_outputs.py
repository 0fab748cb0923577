"""Fluent Bit's outputs as sinks, written with `layout: fluent_bit` (but OTLP, which has its own names)."""

from __future__ import annotations

import json
import re
from typing import Any

from shipper.translate.fluent_bit_config import (
    IGNORED_KEYS,
    Input,
    Plugin,
    field_of,
    identifier,
    matches,
    size_of,
    template_of,
)
from shipper.translate.output import Pipeline, not_translated


def apply_output(plugin: Plugin, out: Pipeline, inputs: list[Input]) -> None:
    name = plugin.name
    matched = [each for each in inputs if matches(plugin, each.tag)]
    notes: list[str] = []
    options: dict[str, Any] | None
    if name == "cloudwatch_logs":
        options = _cloudwatch(plugin, notes)
    elif name == "syslog":
        options = _syslog(plugin, notes)
    elif name == "http":
        options = _http(plugin, notes)
    elif name == "opentelemetry":
        options = _opentelemetry(plugin, notes)
    elif name in ("kinesis_firehose", "kinesis_streams"):
        options = _kinesis(plugin, notes)
    elif name == "s3":
        options = _s3(plugin, notes, matched)
    elif name == "stackdriver":
        options = _stackdriver(plugin, notes, matched)
    elif name == "stdout":
        options = {"type": "console", "encoding": "json"}
        plugin.get("format")
    else:
        out.notes.append(not_translated(f"[OUTPUT] {name} (Match {plugin.get('match')!r})", "no such sink here"))
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
        out.add("sinks", identifier(plugin.get("alias") or name), {"inputs": stages, **made}, notes + stream_notes)


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
    group, group_template = plugin.get("log_group_name"), template_of(plugin.get("log_group_template"), notes)
    stream, stream_template = plugin.get("log_stream_name"), template_of(plugin.get("log_stream_template"), notes)
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
        options["max_message_size"] = size_of(plugin.get("syslog_maxsize"))
    for ours_key, theirs in (("severity_field", "syslog_severity_key"), ("facility_field", "syslog_facility_key")):
        if plugin.get(theirs):
            options[ours_key] = field_of(plugin.get(theirs))
    for ours_key, theirs in (("hostname", "syslog_hostname_key"), ("app_name", "syslog_appname_key"),
                             ("procid", "syslog_procid_key"), ("msgid", "syslog_msgid_key")):
        if plugin.get(theirs):
            options[ours_key] = "{" + ".".join(field_of(plugin.get(theirs)).split(".")) + "}"
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
    _client(plugin, options, notes)
    plugin.get("json_date_key"), plugin.get("json_date_format")  # each record carries `time` with the layout
    return options


def _opentelemetry(plugin: Plugin, notes: list[str]) -> dict[str, Any]:
    """Fluent Bit's opentelemetry output (OTLP/HTTP): its logs go to our sink of that protocol, which
    writes OpenTelemetry's names (no layout); its metrics and traces have no source here."""
    scheme = "https" if plugin.on("tls") else "http"
    logs_uri = plugin.get("logs_uri", "/v1/logs")
    base = logs_uri.removesuffix("/v1/logs")
    if base == logs_uri:
        notes.append(not_translated(f"logs_uri {logs_uri}", "requests go to the endpoint's /v1/logs"))
        base = ""
    options: dict[str, Any] = {
        "type": "opentelemetry",
        "endpoint": f"{scheme}://{plugin.get('host', '127.0.0.1')}:{plugin.get('port', '80')}{base}"}
    _client(plugin, options, notes)
    plugin.get("metrics_uri"), plugin.get("traces_uri")  # no metrics or traces leave this agent
    return options


def _client(plugin: Plugin, options: dict[str, Any], notes: list[str]) -> None:
    """Headers, basic auth, gzip and TLS of Fluent Bit's HTTP outputs, as the http client options take them."""
    headers = {k: v.strip() for k, _, v in (h.partition(" ") for h in plugin.all("header"))}
    if headers:
        options["headers"] = headers
    if plugin.get("http_user"):
        options["auth"] = {"strategy": "basic", "user": plugin.get("http_user"), "password": plugin.get("http_passwd")}
    if plugin.get("compress").lower() == "gzip":
        options["compression"] = "gzip"
    secure = plugin.on("tls")
    if not secure and options.get("auth"):
        options["allow_insecure"] = True
        notes.append("credentials over plain http, as configured (allow_insecure)")
    tls_options = _tls(plugin)
    if secure and tls_options:
        options["tls"] = {k: v for k, v in tls_options.items() if k != "server_name"}


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


S3_KEY_FORMAT = "/fluent-bit-logs/$TAG/%Y/%m/%d/%H/%M/%S"  # Fluent Bit's default s3_key_format


def _s3(plugin: Plugin, notes: list[str], matched: list[Input]) -> dict[str, Any]:
    """Fluent Bit's s3 output: `s3_key_format` with `$TAG` (a literal tag kept), `$UUID`; objects of
    `total_file_size` closed after `upload_timeout`; records as JSON lines (or `log_key` alone)."""
    options: dict[str, Any] = {"type": "s3", "layout": "fluent_bit", "bucket": plugin.get("bucket")}
    _aws(plugin, options)
    options["key"] = _s3_key(plugin.get("s3_key_format") or S3_KEY_FORMAT, notes, matched)
    options["compression"] = "gzip" if plugin.get("compression").lower() == "gzip" else "none"
    if plugin.get("compression") and plugin.get("compression").lower() not in ("gzip", "none"):
        notes.append(not_translated(f"compression {plugin.get('compression')}", "gzip or none here"))
    if plugin.get("log_key"):
        options["encoding"] = "text"
    for ours_key, theirs in (("max_object_bytes", "total_file_size"), ("multipart_part_size", "upload_chunk_size")):
        if plugin.get(theirs):
            options[ours_key] = size_of(plugin.get(theirs))
    if plugin.get("upload_timeout"):
        options["max_object_age"] = plugin.get("upload_timeout")
    if plugin.on("use_put_object"):
        options["multipart_threshold"] = "5GiB"
    if plugin.get("storage_class"):
        options["storage_class"] = plugin.get("storage_class")
    for key in ("store_dir", "store_dir_limit_size", "s3_key_format_tag_delimiters", "json_date_key",
                "json_date_format", "content_type", "send_content_md5", "auto_retry_requests", "retry_limit",
                "preserve_data_ordering"):
        if plugin.get(key):
            notes.append(f"{key}: Fluent Bit's own handling, not needed here (records wait in the spool; "
                         "objects are ndjson, gzip-encoded as stored)")
    if plugin.get("canned_acl"):
        notes.append(not_translated(f"canned_acl {plugin.get('canned_acl')}", "objects take the bucket's ACL"))
    return options


def _s3_key(template: str, notes: list[str], matched: list[Input]) -> str:
    tags = {each.tag for each in matched}
    if "$TAG" in template:
        if len(tags) == 1 and "*" not in next(iter(tags)):
            template = re.sub(r"\$TAG(\[\d+\])?", lambda m: _tag_part(next(iter(tags)), m[1]), template)
        else:
            notes.append(not_translated("$TAG in s3_key_format", "no tags here: name objects by record fields"))
            template = re.sub(r"/?\$TAG(\[\d+\])?", "", template)
    if "$INDEX" in template:
        notes.append("$INDEX: objects are told apart by {uuid} here")
        template = template.replace("$INDEX", "")
    template = template.replace("$UUID", "{uuid}").lstrip("/")
    if "{uuid}" not in template:
        template += "-{uuid}"
        notes.append("{uuid} appended to the key: every object needs its own")
    return template


def _tag_part(tag: str, index: str | None) -> str:
    parts = tag.split(".")
    if not index:
        return tag
    number = int(index[1:-1])
    return parts[number] if number < len(parts) else ""


def _stackdriver(plugin: Plugin, notes: list[str], matched: list[Input]) -> dict[str, Any]:
    """Fluent Bit's stackdriver output: the project is `export_to_project_id`, else the credentials
    file's; container records are named stdout or stderr (as Fluent Bit names them for k8s_container),
    others by their tag when it is one literal tag."""
    options: dict[str, Any] = {"type": "google_cloud_logging", "layout": "fluent_bit"}
    credentials = plugin.get("google_service_credentials")
    if credentials:
        options["credentials_file"] = credentials
    options["project_id"] = plugin.get("export_to_project_id") or _project_of(credentials) or "${GOOGLE_CLOUD_PROJECT}"
    if options["project_id"] == "${GOOGLE_CLOUD_PROJECT}":
        notes.append("project_id: not in the configuration (Fluent Bit reads it from the credentials): set "
                     "GOOGLE_CLOUD_PROJECT or write it here")
    resource = plugin.get("resource", "global")
    options["resource_type"] = resource if resource in ("k8s_container", "gce_instance", "global") else "auto"
    if options["resource_type"] != resource:
        notes.append(not_translated(f"resource {resource}", "k8s_container, gce_instance or global here (auto)"))
    for ours_key, theirs in (("cluster_name", "k8s_cluster_name"), ("location", "k8s_cluster_location"),
                             ("endpoint", "cloud_logging_base_url")):
        if plugin.get(theirs):
            options[ours_key] = plugin.get(theirs)
    tags = {each.tag for each in matched}
    if plugin.get("log_name_key"):
        options["log_name"] = "{" + field_of(plugin.get("log_name_key")) + "}"
    if len(tags) == 1 and "*" not in next(iter(tags)):
        options["fallback_log_name"] = next(iter(tags))
    if plugin.get("severity_key"):
        options["severity_field"] = field_of(plugin.get("severity_key"))
    labels = dict(pair.split("=", 1) for pair in plugin.get("labels").split(",") if "=" in pair)
    if labels:
        options["labels"] = {key.strip(): value.strip() for key, value in labels.items()}
    if plugin.get("text_payload_key"):
        options["payload"] = "text"
        notes.append(f"text_payload_key {plugin.get('text_payload_key')}: the message is the textPayload here")
    if plugin.get("compress").lower() == "gzip":
        options["compression"] = "gzip"
    for key in ("service_account_email", "service_account_secret"):
        if plugin.get(key):
            notes.append(not_translated(key, "give the service account's key file as credentials_file"))
    for key in ("labels_key", "tag_prefix", "custom_k8s_regex", "resource_labels", "metadata_server",
                "autoformat_stackdriver_trace", "trace_key", "span_id_key", "trace_sampled_key"):
        if plugin.get(key):
            notes.append(not_translated(f"{key} {plugin.get(key)}", "the resource comes from each record's "
                                        "metadata; the metadata server from GCE_METADATA_HOST"))
    return options


def _project_of(credentials: str) -> str | None:
    """The project a service account key file names (read for it alone), when the file is here."""
    try:
        with open(credentials, "rb") as file:
            project = json.loads(file.read(1024 * 1024)).get("project_id")
    except (OSError, ValueError, AttributeError):
        return None
    return project if isinstance(project, str) else None


def _tls(plugin: Plugin) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for ours_key, theirs in (("ca_file", "tls.ca_file"), ("cert_file", "tls.crt_file"), ("key_file", "tls.key_file"),
                             ("server_name", "tls.vhost")):
        if plugin.get(theirs):
            options[ours_key] = plugin.get(theirs)
    if plugin.get("tls.verify") and not plugin.on("tls.verify"):
        options["verify_certificate"] = False
    return options

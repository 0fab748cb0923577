"""Vector's sinks as ours, written with `layout: vector` (but OTLP, which has its own names), and the
spelling of Vector's field paths and templates in ours."""

from __future__ import annotations

import re
from typing import Any

from shipper.layouts import ours
from shipper.translate.output import not_translated


def made_sink(kind: str, options: dict[str, Any], codec: str, notes: list[str]) -> dict[str, Any] | None:
    """Our sink's options for Vector's sink of type `kind` (its options popped as they are taken);
    None when there is no such sink here."""
    made: dict[str, Any]
    if kind == "aws_cloudwatch_logs":
        made = {"type": "cloudwatch_logs", "layout": "vector", **_aws(options),
                "group_name": vector_template(options.pop("group_name", "")),
                "stream_name": vector_template(options.pop("stream_name", "")),
                "encoding": "text" if codec == "text" else "json"}
        for key in ("create_missing_group", "create_missing_stream"):
            if key in options:
                made[key] = bool(options.pop(key))
    elif kind in ("aws_kinesis_firehose", "aws_kinesis_streams"):
        firehose = kind == "aws_kinesis_firehose"
        made = {"type": "firehose" if firehose else "kinesis_streams", "layout": "vector", **_aws(options),
                ("delivery_stream" if firehose else "stream_name"): options.pop("stream_name", ""),
                "encoding": "text" if codec == "text" else "json"}
        if options.get("partition_key_field") and not firehose:
            made["partition_key"] = "{" + vector_field(options.pop("partition_key_field")) + "}"
    elif kind == "http":
        made = {"type": "http", "layout": "vector", "uri": options.pop("uri", "")}
        framing = (options.pop("framing", {}) or {}).get("method", "")
        made["encoding"] = "text" if codec == "text" else "ndjson" if framing == "newline_delimited" else "json_array"
        if options.get("compression") == "gzip":
            made["compression"] = options.pop("compression")
        headers = (options.pop("request", {}) or {}).get("headers")
        if headers:
            made["headers"] = headers
        auth = options.pop("auth", None)
        if auth:
            made["auth"] = auth
    elif kind == "socket":
        made = {"type": "syslog", "layout": "vector", "address": options.pop("address", ""),
                "mode": "tls" if (options.pop("tls", {}) or {}).get("enabled") else "tcp"}
        notes.append(f"Vector's socket sink writes each event as its codec ({codec}); here an RFC 5424 syslog "
                     "message, octet-counted (check the receiver)")
        if options.pop("mode", "tcp") == "udp":
            notes.append("mode udp: sent over TCP here (syslog over UDP loses records)")
    elif kind == "console":
        made = {"type": "console", "layout": "vector", "encoding": "text" if codec == "text" else "json"}
        options.pop("target", None)
    elif kind == "aws_s3":
        made = _s3(options, codec, notes)
    elif kind == "opentelemetry" and (options.get("protocol") or {}).get("type", "http") == "http":
        made = _opentelemetry(options.pop("protocol"), notes)
    elif kind == "gcp_stackdriver_logs":
        made = _google_cloud_logging(options, notes)
    else:
        return None
    return made


def vector_field(path: str) -> str:
    """A VRL path (`.kubernetes.pod_namespace`) as our field path."""
    parts = tuple(p.strip('"') for p in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\"[^\"]+\"", path))
    mapped = ours(parts, "vector")
    return ".".join(mapped[1] if mapped else parts)


def vector_template(template: str) -> str:
    """`{{ kubernetes.pod_name }}` as `{kubernetes.pod_name}` (the layout takes Vector's names)."""
    return re.sub(r"\{\{\s*\.?([^{}\s]+)\s*\}\}", r"{\1}", template)


def _opentelemetry(protocol: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Vector's opentelemetry sink over HTTP: the endpoint is its `uri` without `/v1/logs` (ours adds it);
    the OTLP request is built here from each record (Vector sends events already shaped as OTLP)."""
    uri = str(protocol.pop("uri", ""))
    endpoint = uri.removesuffix("/").removesuffix("/v1/logs")
    if endpoint == uri.removesuffix("/"):
        notes.append(f"uri {uri}: requests go to its /v1/logs here")
    codec = (protocol.pop("encoding", {}) or {}).get("codec", "protobuf")
    made: dict[str, Any] = {"type": "opentelemetry", "endpoint": endpoint,
                            "encoding": "json" if codec == "json" else "protobuf"}
    if protocol.pop("compression", None) == "gzip":
        made["compression"] = "gzip"
    headers = (protocol.pop("request", {}) or {}).get("headers") or {}
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}  # ours says what it sends
    if headers:
        made["headers"] = headers
    if protocol.get("auth"):
        made["auth"] = protocol.pop("auth")
    for key in ("method", "framing", "payload_prefix", "payload_suffix"):
        protocol.pop(key, None)
    notes += [not_translated(f"protocol.{key}") for key in protocol if key != "type"]
    notes.append("records become OTLP log records here (resource from the Kubernetes metadata, the rest as "
                 "attributes): no remap to OTLP's shape is needed")
    return made


def _s3(options: dict[str, Any], codec: str, notes: list[str]) -> dict[str, Any]:
    """Vector's aws_s3 sink: the key is `key_prefix` (a template, strftime'd) + the time + `-` + a UUID + the
    extension, as Vector names objects; a batch's `max_bytes` and `timeout_secs` close objects."""
    made: dict[str, Any] = {"type": "s3", "layout": "vector", **_aws(options), "bucket": options.pop("bucket", ""),
                            "encoding": "text" if codec == "text" else "ndjson"}
    compression = options.pop("compression", "gzip")
    made["compression"] = "gzip" if compression == "gzip" else "none"
    if compression not in ("gzip", "none"):
        notes.append(not_translated(f"compression {compression}", "gzip or none here"))
    extension = options.pop("filename_extension", None) or ("log.gz" if made["compression"] == "gzip" else "log")
    time_format = options.pop("filename_time_format", "%s")
    if time_format == "%s":
        time_format = "%Y%m%dT%H%M%SZ"
        notes.append("filename_time_format %s (seconds since the epoch): written as %Y%m%dT%H%M%SZ here")
    if not options.pop("filename_append_uuid", True):
        notes.append("filename_append_uuid false: every object gets its {uuid} here (without it objects of "
                     "one second would replace each other)")
    made["key"] = f"{vector_template(options.pop('key_prefix', 'date=%F/'))}{time_format}-{{uuid}}.{extension}"
    batch = options.pop("batch", None) or {}
    if batch.get("max_bytes"):
        made["max_object_bytes"] = batch["max_bytes"]
    if batch.get("timeout_secs"):
        made["max_object_age"] = f"{batch['timeout_secs']}s"
    for ours_key, theirs in (("server_side_encryption", "server_side_encryption"), ("kms_key_id", "ssekms_key_id"),
                             ("storage_class", "storage_class"), ("tags", "tags")):
        if options.get(theirs):
            made[ours_key] = options.pop(theirs)
    options.pop("framing", None)
    return made


def _aws(options: dict[str, Any]) -> dict[str, Any]:
    made: dict[str, Any] = {}
    if options.get("region"):
        made["region"] = options.pop("region")
    if options.get("endpoint"):
        made["endpoint"] = options.pop("endpoint")
    auth = options.pop("auth", None) or {}
    if auth.get("assume_role"):
        made["assume_role"] = {"role_arn": auth["assume_role"]}
        if auth.get("external_id"):
            made["assume_role"]["external_id"] = auth["external_id"]
    return made


def _google_cloud_logging(options: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Vector's gcp_stackdriver_logs sink: `log_id` (a template) is our `log_name`, its resource's type
    and `cluster_name`/`location` labels ours; `credentials_path` our `credentials_file` (without it,
    both read Application Default Credentials and the metadata server)."""
    made: dict[str, Any] = {"type": "google_cloud_logging", "layout": "vector",
                            "project_id": options.pop("project_id", ""),
                            "log_name": vector_template(str(options.pop("log_id", "")))}
    for scope in ("billing_account_id", "folder_id", "organization_id"):
        if options.get(scope):
            notes.append(not_translated(f"{scope} {options.pop(scope)}", "entries are written to a project here"))
    if options.get("credentials_path"):
        made["credentials_file"] = options.pop("credentials_path")
    resource = dict(options.pop("resource", None) or {})
    kind = resource.pop("type", "global")
    made["resource_type"] = kind if kind in ("k8s_container", "gce_instance", "global") else "auto"
    if made["resource_type"] != kind:
        notes.append(not_translated(f"resource.type {kind}", "k8s_container, gce_instance or global here (auto)"))
    for label in ("cluster_name", "location"):
        if resource.get(label):
            made[label] = vector_template(str(resource.pop(label)))
    notes += [f"resource.{label}: made from each record's metadata here" for label in resource]
    if options.get("severity_key"):
        made["severity_field"] = vector_field(str(options.pop("severity_key")))
    if options.get("labels"):
        made["labels"] = {key: vector_template(str(value)) for key, value in options.pop("labels").items()}
    if options.get("endpoint"):
        made["endpoint"] = options.pop("endpoint")
    if options.pop("compression", "none") == "gzip":
        made["compression"] = "gzip"
    if options.pop("api_key", None):
        notes.append(not_translated("api_key", "entries.write takes OAuth tokens: give credentials_file"))
    batch = options.pop("batch", None) or {}
    for ours_key, theirs in (("max_batch_bytes", "max_bytes"), ("max_batch_events", "max_events")):
        if batch.get(theirs):
            made[ours_key] = batch[theirs]
    if batch.get("timeout_secs"):
        made["batch_timeout"] = f"{batch['timeout_secs']}s"
    return made

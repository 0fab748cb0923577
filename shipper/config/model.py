"""The typed configuration. Every option is documented here; unknown keys are errors."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from shipper.config.base import AGENT_FIELDS, FieldTree, Options, SinkOptions, SourceOptions, readable_file_problem
from shipper.config.units import Address, ByteSize, Duration
from shipper.record import RESERVED
from shipper.sinks.cloudwatch.config import CloudWatchLogsSink
from shipper.sinks.syslog.config import SyslogSink
from shipper.sources.journald.config import JournaldSource

COMPONENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


class BufferOptions(Options):
    max_size: ByteSize = Field(
        1024**3,
        description="Most bytes of records the spool holds; when full, sources pause reading (nothing is dropped).",
        ge=1024 * 1024,
    )


class MultilineOptions(Options):
    """Consecutive lines grouped into one record (stack traces); see `sources/files/multiline.py`."""

    start_pattern: str = Field(
        description="Regular expression; a line it matches (anywhere, use `^` to anchor) starts a new record, "
        "any other line joins the record before it. Example: `^\\d{4}-\\d{2}-\\d{2}` for lines that begin "
        "with a date."
    )
    timeout: Duration = Field(
        1.0, gt=0,
        description="A group whose stream has been quiet this long is shipped without waiting for the next start line.",
    )

    @field_validator("start_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return pattern


class TailOptions(SourceOptions):
    """What every tailing source shares."""

    include: list[str] = Field(description="Glob patterns of the files to read.", min_length=1)
    exclude: list[str] = Field(default_factory=list, description="Glob patterns of files never to read.")
    read_from: Literal["beginning", "end"] = Field(
        "beginning", description="Where to start in a file that has no checkpoint yet."
    )
    max_line_size: ByteSize = Field(
        256 * 1024, ge=1024, description="Longer lines are split into pieces of this size (counted), never dropped."
    )
    max_pending_bytes: ByteSize = Field(
        16 * 1024 * 1024, ge=64 * 1024,
        description="Most bytes of incomplete records (CRI `P` fragments, docker partial lines, open multi-line "
        "groups) the source holds in memory over all its files; beyond it, the oldest are shipped as they stand "
        "(counted as `pending_flushed`), never dropped.",
    )
    read_block_size: ByteSize = Field(
        1024 * 1024, ge=4096, description="Bytes read from a file per spool transaction."
    )
    discover_interval: Duration = Field(1.0, gt=0, description="How often the include globs are searched again.")
    poll_interval: Duration = Field(0.25, gt=0, description="How often open files are checked for new data.")
    multiline: MultilineOptions | None = Field(
        None, description="Group stack traces and other multi-line messages into one record (off by default)."
    )

    @field_validator("include", "exclude")
    @classmethod
    def _absolute(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not pattern.startswith("/"):
                raise ValueError(f"{pattern!r} is not an absolute path")
        return patterns


class FileSource(TailOptions):
    type: Literal["file"]
    format: Literal["plain", "json"] = Field(
        "plain", description="`plain`: one record per line; `json`: one JSON object per line, parsed into fields."
    )
    reserved_key: str = Field(
        "log", min_length=1, description="With `json`: where a line's fields named like the agent's own (`host`, "
        "`file`, `source_type`, `kubernetes`, `journald`, `timestamp`, `message`) are kept, so a line cannot "
        "override the agent's metadata.",
    )

    def fields(self) -> FieldTree | None:
        if self.format == "json":
            return None
        return {**AGENT_FIELDS, "file": {}}

    @field_validator("reserved_key")
    @classmethod
    def _not_reserved(cls, key: str) -> str:
        if key in RESERVED:
            raise ValueError(f"{key!r} is itself a reserved name")
        return key


class KubernetesApiOptions(Options):
    """Pod metadata from the API server (list + watch of this node's pods)."""

    kubeconfig: str | None = Field(None, description="A kubeconfig file; by default the pod's service account.")
    node_name: str | None = Field(
        None, description="This node; by default $NODE_NAME (the downward API's spec.nodeName)."
    )
    annotations: list[str] = Field(
        default_factory=list, description="Pod annotations to copy onto records: keys, or prefixes ending in `*`."
    )
    exclude_labels: list[str] = Field(default_factory=list, description="Pod label keys not copied onto records.")

    def environment_issues(self) -> list[tuple[str, str]]:
        problem = readable_file_problem(self.kubeconfig) if self.kubeconfig else None
        return [("kubeconfig", problem)] if problem else []


class KubernetesLogsSource(TailOptions):
    """Container logs written by the kubelet: CRI or docker json-file lines, detected per file."""

    type: Literal["kubernetes_logs"]
    include: list[str] = Field(["/var/log/containers/*.log"], min_length=1,
                               description="Glob patterns of the container log files (symlinks are followed).")
    api: KubernetesApiOptions | None = Field(
        None, description="Add labels, annotations, node and image from the API server (off unless configured)."
    )
    include_namespaces: list[str] = Field(default_factory=list, description="Only these namespaces (empty: all).")
    exclude_namespaces: list[str] = Field(default_factory=list, description="Never these namespaces.")
    include_pod_labels: dict[str, str] = Field(
        default_factory=dict, description="Only pods with all these labels (needs `api`)."
    )
    exclude_pod_labels: dict[str, str] = Field(
        default_factory=dict, description="Never pods with any of these labels (needs `api`)."
    )
    honor_exclude_annotation: bool = Field(
        True, description="Skip pods annotated `shipper.io/exclude: \"true\"` (or `shipper.io/exclude-<container>`). "
        "The annotation is the pod's own say: set false so that no tenant can opt out of collection.",
    )

    def environment_issues(self) -> list[tuple[str, str]]:
        return [(f"api.{key}", reason) for key, reason in self.api.environment_issues()] if self.api else []

    def fields(self) -> FieldTree | None:
        kubernetes: FieldTree = {key: {} for key in ("namespace", "pod_name", "pod_uid", "container_name",
                                                      "container_id")}
        if self.api is not None:
            kubernetes.update({"node_name": {}, "container_image": {}, "labels": None, "annotations": None})
        return {**AGENT_FIELDS, "file": {}, "stream": {}, "parse_error": {}, "kubernetes": kubernetes}

    @model_validator(mode="after")
    def _labels_need_the_api(self) -> KubernetesLogsSource:
        if (self.include_pod_labels or self.exclude_pod_labels) and self.api is None:
            raise ValueError("include_pod_labels and exclude_pod_labels need `api` (labels come from the API server)")
        if self.api is not None:
            try:
                import kubernetes  # noqa: F401 - only whether it is there
            except ImportError:
                raise ValueError("`api` needs the kubernetes client: pip install 'shipper-agent[kubernetes]'") from None
        return self


SourceOptions = Annotated[FileSource | KubernetesLogsSource | JournaldSource, Field(discriminator="type")]


class ConsoleSink(SinkOptions):
    """Records on stdout, one per line."""

    type: Literal["console"]
    encoding: Literal["json", "text"] = Field(
        "json", description="`json`: one object per record with all its fields; `text`: the message alone."
    )


SinkOptionsUnion = Annotated[ConsoleSink | CloudWatchLogsSink | SyslogSink, Field(discriminator="type")]


class ApiOptions(Options):
    address: Address = Field(
        "127.0.0.1:8686", description="host:port of /metrics, /healthz and /readyz (0.0.0.0:8686 for kubelet probes)."
    )


class LogOptions(Options):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Least severe level written.")
    format: Literal["text", "json", "logfmt"] = Field("text", description="How each line of the agent's log looks.")
    sdk_debug: bool = Field(
        False, description="Let the AWS SDK and HTTP libraries log at `level` too (they stay at info otherwise); "
        "request and response bodies are never logged, and secrets are masked either way.",
    )


class AgentConfig(Options):
    data_dir: str = Field("/var/lib/shipper", description="Where the spool and checkpoints live.")
    buffer: BufferOptions = Field(default_factory=BufferOptions, description="The disk spool every record waits in.")
    api: ApiOptions | None = Field(None, description="The HTTP API; off unless configured.")
    log: LogOptions = Field(default_factory=LogOptions, description="The agent's own log, on stderr.")
    shutdown_timeout: Duration = Field(
        20.0, description="On SIGTERM, how long sinks may drain before the agent exits (keep the rest on disk)."
    )
    sources: dict[str, SourceOptions] = Field(min_length=1)
    sinks: dict[str, SinkOptionsUnion] = Field(min_length=1)

    @field_validator("sources", "sinks")
    @classmethod
    def _component_ids(cls, components: dict) -> dict:
        for name in components:
            if not COMPONENT_ID.match(name):
                raise ValueError(f"{name!r} is not a valid id (letters, digits, '_' and '-')")
        return components


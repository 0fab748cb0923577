"""Options of the `google_cloud_logging` sink: records written to Google Cloud Logging (formerly
Stackdriver) with entries.write, under a monitored resource, with credentials as Google's own clients
find them."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shipper.config.http_client import HttpClientOptions, checked_base_uri, on_this_host
from shipper.config.units import ByteSize, Duration, FieldPath
from shipper.templates import Template

WRITE_PATH = "/v2/entries:write"
MAX_REQUEST_BYTES = 10_000_000  # Cloud Logging: an entries.write request is at most 10 MB
MAX_LABELS = 64  # labels of one entry
RESOURCE_TYPES = ("auto", "k8s_container", "gce_instance", "global")
# A project ID (6-30 of a-z, 0-9, -) or a domain-scoped one (`example.com:logs`)
_PROJECT_ID = re.compile(r"([a-z0-9.-]{1,200}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_LABEL_KEY = re.compile(r"[A-Za-z0-9_.\-/]{1,512}")


class GoogleCloudLoggingOptions(HttpClientOptions):
    """Google Cloud Logging: batches of entries (one a record) sent with entries.write and partial
    success; a batch is acknowledged once the API answered (entries it refused counted)."""

    type: Literal["google_cloud_logging"]
    project_id: str = Field(description="The project the entries are written to, e.g. `my-project`.")
    credentials_file: str | None = Field(
        None, description="A credentials file as Google's clients read it: a service account's JSON key, or a "
        "workload identity federation file (`external_account`, for a cluster outside Google Cloud). Without it, "
        "Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, then the GKE/GCE metadata server "
        "(Workload Identity). The role needed is `roles/logging.logWriter`.")
    endpoint: str = Field("https://logging.googleapis.com", description="The API's base URL (a private endpoint, or "
                          f"a test's); requests go to its `{WRITE_PATH}`.")
    log_name: str = Field(
        "{stream}", description="Template of each entry's log ID (the last part of `projects/P/logs/ID`), from the "
        "record's fields: `stdout` or `stderr` by default, as GKE names container logs. Characters other than "
        "letters, digits, `/ _ - .` become `_`; a record without a field it names goes to `fallback_log_name`.")
    fallback_log_name: str = Field(
        "shipper", description="Log ID of records that lack a field `log_name` names (journal entries have no "
        "`stream`); counted in `shipper_events_fallback_named_total`.")
    resource_type: Literal[RESOURCE_TYPES] = Field(  # type: ignore[valid-type]
        "auto", description="The monitored resource of every entry. `auto`: `k8s_container` for a record with "
        "Kubernetes metadata, else `gce_instance` on a Compute Engine host, else `global`.")
    cluster_name: str | None = Field(
        None, description="`k8s_container` resources' cluster_name; read from the metadata server on GKE when left "
        "out (`cluster-name`).")
    location: str | None = Field(
        None, description="`k8s_container` resources' location (the cluster's region or zone); read from the "
        "metadata server on GKE when left out (`cluster-location`).")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels of every entry, each a template: `{app: \"{kubernetes.labels.app}\""
        "}`. A label whose field a record lacks is left out of its entry. At most 64; values cut at 64 KiB.")
    payload: Literal["json", "text"] = Field(
        "json", description="`json`: `jsonPayload` holds the record with every field (in `layout`'s names), as the "
        "http sink's ndjson writes it; `text`: `textPayload` holds the message alone.")
    severity_field: FieldPath | None = Field(
        None, description="A field holding each record's severity (a syslog number 0-7 or a level name in any "
        "case); without it the record's `severity` field. Mapped to Cloud Logging's LogSeverity (warn -> WARNING, "
        "crit -> CRITICAL...); a record without one gets DEFAULT.")
    max_batch_bytes: ByteSize = Field(
        5 * 1024 * 1024, ge=300 * 1024, le=MAX_REQUEST_BYTES - 64 * 1024,
        description="Largest request body before compression (the API takes 10 MB).")
    max_batch_events: int = Field(1000, ge=1, le=100_000, description="Most entries per request.")
    batch_timeout: Duration = Field(
        1.0, gt=0, description="Longest a record waits for its batch to fill before the batch is sent anyway.")
    compression: Literal["none", "gzip"] = Field(
        "none", description="`gzip` compresses each request body (a quarter of the bytes, for about twice the "
        "agent's CPU: entries carry their resource and every field). Off by default, as in Fluent Bit's "
        "stackdriver output and Vector's gcp_stackdriver_logs sink.")

    @field_validator("project_id")
    @classmethod
    def _project_id(cls, value: str) -> str:
        if not _PROJECT_ID.fullmatch(value):
            raise ValueError("is not a Google Cloud project ID (6-30 lowercase letters, digits and hyphens)")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return checked_base_uri(value)

    @field_validator("log_name", "fallback_log_name")
    @classmethod
    def _log_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        Template(value)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_LABELS:
            raise ValueError(f"Cloud Logging takes at most {MAX_LABELS} labels an entry")
        for key, template in value.items():
            if not _LABEL_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not a label key (1-512 of letters, digits, `_ . - /`)")
            Template(template)
        return value

    @model_validator(mode="after")
    def _own_credentials(self) -> GoogleCloudLoggingOptions:
        if self.auth is not None:
            raise ValueError("`auth` is not taken: the sink signs in with `credentials_file` or the metadata server")
        if any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("headers.Authorization is set by the sink from its credentials")
        if not self.secure and not self.allow_insecure and not on_this_host(self.request_uri):
            raise ValueError(f"the access token would travel in plain text to {self.shown_uri}: use https://, or "
                             "set allow_insecure: true")
        return self

    @property
    def request_uri(self) -> str:
        return self.endpoint.rstrip("/") + WRITE_PATH

    def templates(self) -> dict[str, Template]:
        """The templates to check against what the inputs produce; the default log name is not one (a
        journal or a plain file has no `stream`: its records go to `fallback_log_name`, as documented)."""
        named = {"log_name": Template(self.log_name, self.layout)} if "log_name" in self.model_fields_set else {}
        return named | {f"labels.{key}": Template(source, self.layout) for key, source in self.labels.items()}

    def environment_issues(self) -> list[tuple[str, str]]:
        issues = super().environment_issues()
        if self.credentials_file is not None:
            # google-auth takes ~0.3 s to import: loaded only when such a sink is configured, never at
            # every agent's start (a restart that slow loses lines to kubelet's rotations)
            from shipper.sinks.google_cloud_logging.credentials import credentials_file_issue

            issue = credentials_file_issue(self.credentials_file)
            if issue is not None:
                issues.append(("credentials_file", issue))
        return issues


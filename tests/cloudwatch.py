"""Reading back what arrived in CloudWatch Logs (LocalStack), and configs for a cloudwatch_logs agent."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3

from tests.agent_process import write_config


def logs_client(endpoint: str) -> Any:
    return boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def unique_prefix() -> str:
    """Group names of one test: LocalStack has no reset, so every test keeps to its own."""
    return f"/shipper-test/{uuid.uuid4().hex[:10]}"


def groups(client: Any, prefix: str) -> list[dict[str, Any]]:
    found = []
    for page in client.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
        found += page["logGroups"]
    return found


def streams(client: Any, group: str) -> list[str]:
    names = []
    for page in client.get_paginator("describe_log_streams").paginate(logGroupName=group):
        names += [s["logStreamName"] for s in page["logStreams"]]
    return names


def events(client: Any, group: str, stream: str) -> list[dict[str, Any]]:
    """Every event of a stream, oldest first (GetLogEvents pages until the token stops moving)."""
    out: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = client.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **kwargs)
        out += page["events"]
        if not page["events"] or page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def arrived(client: Any, prefix: str) -> dict[tuple[str, str], list[str]]:
    """(group, stream) -> messages, for every group under `prefix`."""
    result = {}
    for group in groups(client, prefix):
        name = group["logGroupName"]
        for stream in streams(client, name):
            result[(name, stream)] = [e["message"] for e in events(client, name, stream)]
    return result


def count_arrived(client: Any, prefix: str) -> int:
    return sum(len(messages) for messages in arrived(client, prefix).values())


def agent_config(tmp_path: Path, endpoint: str, prefix: str, include: Iterable[str], *,
                 source: dict[str, Any] | None = None, **sink: Any) -> Path:
    options = {
        "type": "cloudwatch_logs", "inputs": ["pods"], "region": "us-east-1", "endpoint": endpoint,
        "group_name": prefix + "/{kubernetes.namespace}",
        "stream_name": "{kubernetes.pod_name}.{kubernetes.container_name}",
        "create_missing_group": True, "batch_timeout": "200ms", "request_timeout": "10s",
        **sink,
    }
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "5s",
        "sources": {"pods": {"type": "kubernetes_logs", "include": list(include), "poll_interval": "50ms",
                             "discover_interval": "200ms", **(source or {})}},
        "sinks": {"cw": options},
    })


WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hpcHBlcjpzaGlwcGVyIn0.sig"


def use_irsa(monkeypatch: Any, directory: Path, sts_endpoint: str) -> None:
    """Credentials only as EKS IRSA gives them: a role and a web identity token, exchanged at `sts_endpoint`."""
    token = directory / "token"
    token.write_text(WEB_IDENTITY_TOKEN)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::000000000000:role/shipper")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_endpoint)

"""A Fluent Bit pipeline's CloudWatch names and fields, kept: with `layout: fluent_bit` the group and stream
templates written with Fluent Bit's names work, and each event is the JSON Fluent Bit's kubernetes filter
writes (`log`, `kubernetes.namespace_name`...), so Insights queries on those fields keep working."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.agent_process import AgentProcess, wait_for
from tests.cloudwatch import agent_config, events, logs_client, streams, unique_prefix
from tests.node import make_pod, write_cri

pytestmark = pytest.mark.localstack


def test_a_fluent_bit_layout_names_groups_and_writes_events_with_fluent_bits_fields(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")], encoding="json",
                       layout="fluent_bit", group_name=prefix + "/{kubernetes.namespace_name}",
                       stream_name="{kubernetes.pod_name}.{kubernetes.container_name}")
    pod = make_pod(tmp_path, "shop", "web-0")
    write_cri(pod, ["GET /cart 200", "GET /pay 500"])
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    group = f"{prefix}/shop"
    wait_for(lambda: any(g["logGroupName"] == group for g in client.describe_log_groups(
        logGroupNamePrefix=prefix)["logGroups"]) and len(events(client, group, "web-0.app")) >= 2, 60, "the events")
    assert agent.terminate(timeout=20) == 0

    written = [json.loads(e["message"]) for e in events(client, group, "web-0.app")]
    assert streams(client, group) == ["web-0.app"]
    assert [w["log"] for w in written] == ["GET /cart 200", "GET /pay 500"]
    assert {w["kubernetes"]["namespace_name"] for w in written} == {"shop"}
    assert {w["kubernetes"]["pod_name"] for w in written} == {"web-0"}
    assert "message" not in written[0] and "namespace" not in written[0]["kubernetes"]
    assert {w["stream"] for w in written} == {"stdout"}

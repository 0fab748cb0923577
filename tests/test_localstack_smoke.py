"""LocalStack runs on this host and speaks CloudWatch Logs to boto3."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest

pytestmark = pytest.mark.localstack


def test_an_event_put_into_a_new_stream_reads_back(localstack, aws_env):
    logs = boto3.client("logs", endpoint_url=localstack, region_name="us-east-1")
    group = f"/shipper/smoke/{uuid.uuid4()}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now_ms = int(time.time() * 1000)

    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": now_ms, "message": "hello from shipper"}])

    events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [(e["timestamp"], e["message"]) for e in events] == [(now_ms, "hello from shipper")]

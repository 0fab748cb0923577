"""The CloudWatch Logs client: our prepared PutLogEvents body is what is sent, and nothing keeps it after."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from shipper.sinks.cloudwatch.batch import request_body
from shipper.sinks.cloudwatch.client import CloudWatchLogs
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions as Options
from tests.cloudwatch import events, logs_client, unique_prefix

pytestmark = pytest.mark.localstack


def options(endpoint: str) -> Options:
    return Options.model_validate({"type": "cloudwatch_logs", "inputs": ["app"], "region": "us-east-1",
                                   "endpoint": endpoint, "group_name": "g", "stream_name": "s"})


async def put_and_keep_referrers(endpoint: str, group: str) -> tuple[list[object], dict]:
    client = CloudWatchLogs("cw", options(endpoint))
    await client.open()
    try:
        await client.create_log_group(group, {})
        await client.create_log_stream(group, "s")
        now = int(time.time() * 1000)
        body = request_body(group, "s", [{"timestamp": now, "message": m} for m in ("first", "second")])
        rejected = await client.put_log_events(group, "s", body)
        await asyncio.sleep(0)  # let the connection's callbacks run, as the sink would
        return gc.get_referrers(body), rejected
    finally:
        await client.close()


def test_a_prepared_body_is_delivered_and_referenced_by_nothing_once_the_call_returns(localstack, aws_env):
    # a body kept alive by a copied context (a task or callback made during the call) piled up
    # megabytes per request until the collector ran: 100 MB of RSS in the benchmark
    group = unique_prefix()
    gc.disable()
    try:
        referrers, rejected = asyncio.run(put_and_keep_referrers(localstack, group))
    finally:
        gc.enable()

    assert referrers == []
    assert rejected == ({}, {})
    assert [e["message"] for e in events(logs_client(localstack), group, "s")] == ["first", "second"]

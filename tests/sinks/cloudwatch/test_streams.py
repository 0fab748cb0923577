"""The CloudWatch sink's table of streams is bounded: stream names come from records (a forward
client's `container_name`, a pod's label), so streams with nothing to send are forgotten once the
table has grown by MAX_IDLE_STREAMS; streams with work are kept."""

from __future__ import annotations

import asyncio

from shipper.buffer.spool import Spool
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions
from shipper.sinks.cloudwatch.sink import MAX_IDLE_STREAMS, CloudWatchLogsSink


async def test_streams_named_by_records_are_forgotten_when_idle_and_kept_while_they_have_work(tmp_path):
    options = CloudWatchLogsOptions.model_validate({
        "type": "cloudwatch_logs", "inputs": ["app"], "region": "us-east-1", "group_name": "/app",
        "stream_name": "{container_name}"})
    spool = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    sink = CloudWatchLogsSink("cw", options, spool)
    busy = sink._queue_for({}, (1, "m", {"container_name": "busy"}), 1)
    busy.task = asyncio.get_running_loop().create_future()  # a worker still sending

    for n in range(10 * MAX_IDLE_STREAMS):
        sink._queue_for({}, (1, "m", {"container_name": f"client-chosen-{n}"}), 1)

    assert len(sink.queues) <= MAX_IDLE_STREAMS + 1
    assert sink.queues[("/app", "busy")] is busy
    busy.task.cancel()
    spool.close()

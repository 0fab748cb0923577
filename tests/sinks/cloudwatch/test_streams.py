"""The CloudWatch sink's table of streams is bounded: stream names come from records (a forward
client's `container_name`, a pod's label), so streams with nothing to send are forgotten once the
table has grown by MAX_IDLE_STREAMS; streams with work are kept."""

from __future__ import annotations

import asyncio

from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions
from shipper.sinks.cloudwatch.routing import MAX_IDLE_STREAMS, Router


async def test_streams_named_by_records_are_forgotten_when_idle_and_kept_while_they_have_work():
    options = CloudWatchLogsOptions.model_validate({
        "type": "cloudwatch_logs", "inputs": ["app"], "region": "us-east-1", "group_name": "/app",
        "stream_name": "{container_name}"})
    router = Router(options, ("sink", "cw", "cloudwatch_logs"))

    def sending(queue) -> bool:  # as the sink says: a worker still has a batch in flight
        return queue.task is not None and not queue.task.done()

    busy = router._queue_for({}, (1, "m", {"container_name": "busy"}), 1, sending)
    busy.task = asyncio.get_running_loop().create_future()

    for n in range(10 * MAX_IDLE_STREAMS):
        router._queue_for({}, (1, "m", {"container_name": f"client-chosen-{n}"}), 1, sending)

    assert len(router.queues) <= MAX_IDLE_STREAMS + 1
    assert router.queues[("/app", "busy")] is busy
    busy.task.cancel()

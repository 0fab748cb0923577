"""The sink's own bounds, against an S3 endpoint that keeps S3's rules (peers/fake_s3.py): however
many partitions the key makes, at most MAX_GATHERING objects are gathered at once and partitions
with nothing left are forgotten; every record arrives once."""

from __future__ import annotations

import pytest

from peers.fake_s3 import FakeS3
from shipper.buffer.spool import Spool
from shipper.record import Block
from shipper.sinks.s3 import sink as s3_sink
from shipper.sinks.s3.config import S3Options
from tests.sinks.harness import SOURCE, running, until


@pytest.fixture
def endpoint():
    fake = FakeS3().start()
    yield fake
    fake.stop()


async def test_a_key_naming_thousands_of_pods_keeps_a_bounded_number_of_objects_and_partitions(
        spool: Spool, endpoint, aws_env):
    pods = 3 * s3_sink.MAX_GATHERING
    options = S3Options.model_validate({"type": "s3", "inputs": [SOURCE], "bucket": "logs", "endpoint": endpoint.url,
                                        "key": "{pod}/{uuid}.gz", "max_object_age": "1h"})
    sink = s3_sink.S3Sink("out", options, spool)
    await sink.open()
    most_gathering = 0

    def gathering() -> int:
        nonlocal most_gathering
        count = sum(1 for queue in sink.queues.values() if queue.open is not None)
        most_gathering = max(most_gathering, count)
        return count

    try:
        async with running(sink):
            for pod in range(pods):
                await spool.append([Block(SOURCE, {}, [(0, f"line of pod {pod}", {"pod": f"pod-{pod}"})])], {}, SOURCE)
                if pod % 50 == 0:
                    await until(lambda: spool.backlog("out") <= s3_sink.MAX_GATHERING or gathering() == 0)
                gathering()
            await until(lambda: endpoint.lines >= pods - s3_sink.MAX_GATHERING, timeout=30)
    finally:
        await sink.close()

    assert most_gathering <= s3_sink.MAX_GATHERING
    assert endpoint.lines >= pods - s3_sink.MAX_GATHERING and endpoint.refused == 0
    assert len(sink.queues) <= 2 * s3_sink.MAX_GATHERING + 1


async def test_a_multipart_upload_aborted_under_the_sink_is_started_again_and_the_object_stored_once(
        spool: Spool, endpoint, aws_env):
    endpoint.to_abort = 2
    options = S3Options.model_validate({"type": "s3", "inputs": [SOURCE], "bucket": "logs", "endpoint": endpoint.url,
                                        "key": "{uuid}.gz", "multipart_threshold": "0", "max_object_age": "10ms"})
    sink = s3_sink.S3Sink("out", options, spool)
    await sink.open()
    try:
        async with running(sink):
            await spool.append([Block(SOURCE, {}, [(0, f"line {n}", None) for n in range(100)])], {}, SOURCE)
            await until(lambda: endpoint.objects >= 1, timeout=30)
            await until(lambda: spool.backlog("out") == 0)
    finally:
        await sink.close()

    assert (endpoint.objects, endpoint.lines, endpoint.to_abort) == (1, 100, 0)

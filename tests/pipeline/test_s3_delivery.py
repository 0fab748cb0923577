"""The agent writing objects to an S3 bucket in LocalStack, read back and decompressed: every line
exactly once, objects named and cut as configured, multipart uploads, kill -9 at random points (an
object sent again replaces itself), a bucket missing or a KMS key disabled (not ready, nothing lost)."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from peers.fault_proxy import FaultProxy
from tests.agent_process import (
    AgentProcess,
    http_get,
    numbered,
    scraped,
    wait_for,
    with_api,
    write_config,
    write_lines,
)
from tests.s3 import Bucket
from tests.streams import client, unique_name

pytestmark = pytest.mark.localstack


def s3_config(tmp_path: Path, bucket: Bucket, **sink) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "poll_interval": "20ms"}},
        "sinks": {"out": {"type": "s3", "inputs": ["app"], "endpoint": bucket.endpoint, "bucket": bucket.name,
                          "request_timeout": "5s", "max_object_age": "300ms", **sink}},
    })


def messages(lines: list[str]) -> list[str]:
    return [json.loads(line)["message"] for line in lines]


def test_every_line_arrives_once_in_order_in_gzip_ndjson_objects_named_by_the_key_template(
        tmp_path, localstack, aws_env):
    lines = numbered(20_000)
    write_lines(tmp_path, lines[:10_000], "one.log")
    write_lines(tmp_path, lines[10_000:], "two.log")
    bucket = Bucket.create(localstack)
    key = "nodes/{host}/{file}/%Y/%m/%d/%H/{uuid}.ndjson.gz"
    agent = AgentProcess(s3_config(tmp_path, bucket, key=key, max_object_bytes="400KiB",
                                   tags={"team": "platform"}, storage_class="STANDARD_IA"), stdout=subprocess.DEVNULL)

    wait_for(lambda: len(bucket.lines()) >= len(lines), 60, "every line in S3")
    assert agent.terminate(timeout=20) == 0

    keys = bucket.keys()
    by_file: dict[str, list[str]] = {}
    for name in sorted(keys, key=lambda k: json.loads(bucket.lines_of(k)[0])["message"]):
        records = [json.loads(line) for line in bucket.lines_of(name)]
        assert {r["file"] for r in records} == {records[0]["file"]}  # one partition an object
        by_file.setdefault(records[0]["file"], []).extend(r["message"] for r in records)
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime(time.mktime(time.strptime(
            records[0]["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone))
        assert name.startswith(f"nodes/{records[0]['host']}/{records[0]['file']}/{hour}/")
        assert name.endswith(".ndjson.gz")
    assert by_file == {str(tmp_path / "logs" / "one.log"): lines[:10_000],
                       str(tmp_path / "logs" / "two.log"): lines[10_000:]}
    assert len(keys) >= 6  # cut at max_object_bytes: 10,000 lines of ~150 bytes are ~1.5 MB a file
    sample = bucket.get(keys[0])
    assert (sample["ContentEncoding"], sample["ContentType"]) == ("gzip", "application/x-ndjson")
    assert sample["StorageClass"] == "STANDARD_IA"
    tags = bucket.s3.get_object_tagging(Bucket=bucket.name, Key=keys[0])["TagSet"]
    assert tags == [{"Key": "team", "Value": "platform"}]


def test_objects_larger_than_the_threshold_go_as_multipart_uploads_and_read_back_whole(
        tmp_path, localstack, aws_env):
    lines = [f"{n:07d} " + "x" * 200 for n in range(60_000)]  # ~12 MB of text, uncompressed
    write_lines(tmp_path, lines)
    bucket = Bucket.create(localstack)
    cfg = s3_config(tmp_path, bucket, key="raw/{uuid}.log", encoding="text", compression="none",
                    max_object_bytes="64MiB", max_object_age="2s", multipart_threshold="1MiB",
                    multipart_part_size="5MiB")
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: len(bucket.lines()) >= len(lines), 90, "every line in S3")
    parts = scraped(api, "shipper_api_calls_total", operation="UploadPart", result="ok")
    assert agent.terminate(timeout=20) == 0

    assert bucket.lines() == lines
    assert parts >= 3 and bucket.open_uploads() == []


@pytest.mark.parametrize("operation", ["PutObject", "CompleteMultipartUpload", "UploadPart"])
def test_kill_9_with_objects_stored_but_unanswered_loses_nothing_and_each_sent_again_replaces_itself(
        tmp_path, localstack, aws_env, operation):
    lines = numbered(30_000)
    bucket = Bucket.create(localstack)
    slow = FaultProxy(localstack, operation=operation).start()
    slow.slow(0.5)  # stored, the answer held back: the kill lands between the two
    try:
        sink = {"endpoint": slow.url, "key": "{uuid}.ndjson.gz", "max_object_bytes": "128KiB",
                "max_object_age": "100ms", "max_requests_in_flight": 8,
                "multipart_threshold": "16MiB" if operation == "PutObject" else "0"}
        cfg = s3_config(tmp_path, bucket, **sink)
        write_lines(tmp_path, [])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        for start in range(0, len(lines), 200):  # lines as they come: objects cut by age, wherever it falls
            write_lines(tmp_path, lines[start:start + 200])
            time.sleep(0.05)
        wait_for(lambda: len(slow.landed) >= 10, 60, "objects stored, their answers held")
        agent.kill()
        slow.slow(0)
        restarted = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: len(set(bucket.lines())) >= len(lines), 90, "every line after the restart")
        assert restarted.terminate(timeout=20) == 0
    finally:
        slow.stop()

    counts = Counter(messages(bucket.lines()))
    assert [line for line in lines if line not in counts] == []
    assert {line: n for line, n in counts.items() if n > 1} == {}
    assert "cutting their records the same way again" in restarted.log()
    assert bucket.open_uploads() == []  # parts stored for uploads never completed: aborted at the restart
    if operation == "UploadPart":
        assert "multipart upload(s) of" in restarted.log()


def test_an_upload_whose_answer_was_lost_is_sent_again_under_its_key_and_nothing_repeats(
        tmp_path, localstack, aws_env):
    lines = numbered(5_000)
    write_lines(tmp_path, lines)
    bucket = Bucket.create(localstack)
    lossy = FaultProxy(localstack, operation="PutObject").start()
    lossy.reset_after_forward(3)  # stored, then the connection cut before the answer
    try:
        cfg = s3_config(tmp_path, bucket, endpoint=lossy.url, max_object_bytes="64KiB")
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: len(bucket.lines()) >= len(lines) and lossy.pending() == 0, 60, "every line in S3")
        assert agent.terminate(timeout=20) == 0
    finally:
        lossy.stop()

    assert sorted(messages(bucket.lines())) == lines  # objects come back in key order
    assert lossy.injected["reset_after_forward"] == 3


def test_a_missing_bucket_makes_the_sink_not_ready_and_every_line_arrives_once_it_exists(
        tmp_path, localstack, aws_env):
    lines = numbered(3_000)
    write_lines(tmp_path, lines)
    bucket = Bucket(localstack, unique_name("later"))
    cfg = s3_config(tmp_path, bucket)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "not ready")
    assert "NoSuchBucket" in http_get(f"{api}/readyz")[1]
    client("s3", localstack).create_bucket(Bucket=bucket.name)
    wait_for(lambda: len(bucket.lines()) >= len(lines), 60, "every line once the bucket exists")
    wait_for(lambda: http_get(f"{api}/readyz")[0] == 200, 30, "ready again")
    assert agent.terminate(timeout=20) == 0
    assert messages(bucket.lines()) == lines


def test_a_disabled_kms_key_makes_the_sink_not_ready_and_nothing_is_lost_once_it_is_enabled(
        tmp_path, localstack, aws_env):
    lines = numbered(3_000)
    write_lines(tmp_path, lines)
    bucket = Bucket.create(localstack)
    kms = client("kms", localstack)
    key_id = kms.create_key(Description="archive")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    cfg = s3_config(tmp_path, bucket, server_side_encryption="aws:kms", kms_key_id=key_id)
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "not ready")
    assert bucket.keys() == []
    kms.enable_key(KeyId=key_id)
    wait_for(lambda: len(bucket.lines()) >= len(lines), 60, "every line once the key is enabled")
    assert agent.terminate(timeout=20) == 0
    assert messages(bucket.lines()) == lines
    stored = bucket.get(bucket.keys()[0])
    assert (stored["ServerSideEncryption"], stored["SSEKMSKeyId"].split("/")[-1]) == ("aws:kms", key_id)

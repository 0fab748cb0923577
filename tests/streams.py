"""Firehose and Kinesis Data Streams in LocalStack: creating a delivery stream into an S3 bucket or a
data stream, and reading back every record that arrived (the S3 objects Firehose wrote; every shard
from its start)."""

from __future__ import annotations

import gzip
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

ACCOUNT = "000000000000"


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def unique_name(prefix: str) -> str:
    """Names of one test: LocalStack has no reset, so every test keeps to its own."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def lines_of(records: list[bytes]) -> list[str]:
    """The newline-delimited lines of stream records, in order (gzip members decompressed)."""
    out: list[str] = []
    for record in records:
        data = gzip.decompress(record) if record[:2] == b"\x1f\x8b" else record
        out += data.decode("utf-8").split("\n")[:-1]
    return out


@dataclass
class FirehoseToS3:
    """A Direct PUT delivery stream writing to its own bucket; `records` reads back what it delivered."""

    endpoint: str
    name: str

    @classmethod
    def create(cls, endpoint: str) -> FirehoseToS3:
        stream = cls(endpoint, unique_name("logs"))
        client("s3", endpoint).create_bucket(Bucket=stream.name)
        firehose = client("firehose", endpoint)
        firehose.create_delivery_stream(
            DeliveryStreamName=stream.name, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "BucketARN": f"arn:aws:s3:::{stream.name}", "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose",
                "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 1}})
        deadline = time.monotonic() + 30
        while firehose.describe_delivery_stream(DeliveryStreamName=stream.name)[
                "DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
            assert time.monotonic() < deadline, "the delivery stream did not become active"
            time.sleep(0.1)
        return stream

    def objects(self) -> list[bytes]:
        """The objects written to the bucket, oldest first (LocalStack writes one per call)."""
        s3 = client("s3", self.endpoint)
        found: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            found += page.get("Contents", [])
        found.sort(key=lambda o: (o["LastModified"], o["Key"]))
        return [s3.get_object(Bucket=self.name, Key=o["Key"])["Body"].read() for o in found]

    def lines(self) -> list[str]:
        return lines_of(self.objects())


@dataclass
class KinesisStream:
    endpoint: str
    name: str

    @classmethod
    def create(cls, endpoint: str, shards: int = 2, name: str | None = None) -> KinesisStream:
        stream = cls(endpoint, name or unique_name("logs"))
        kinesis = client("kinesis", endpoint)
        kinesis.create_stream(StreamName=stream.name, ShardCount=shards)
        deadline = time.monotonic() + 60
        while kinesis.describe_stream(StreamName=stream.name)["StreamDescription"]["StreamStatus"] != "ACTIVE":
            assert time.monotonic() < deadline, "the stream did not become active"
            time.sleep(0.1)
        return stream

    def records(self) -> list[dict[str, Any]]:
        """Every record of every shard from its start: shard by shard, each in its order."""
        kinesis = client("kinesis", self.endpoint)
        found: list[dict[str, Any]] = []
        for shard in kinesis.list_shards(StreamName=self.name)["Shards"]:
            iterator = kinesis.get_shard_iterator(StreamName=self.name, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                found += [{**r, "ShardId": shard["ShardId"]} for r in page["Records"]]
                if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                    break
                iterator = page.get("NextShardIterator")
        return found

    def lines(self) -> list[str]:
        return lines_of([r["Data"] for r in self.records()])

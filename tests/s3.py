"""An S3 bucket in LocalStack as the `s3` sink's tests read it: every object, its lines (gzip undone
as a reader of `Content-Encoding: gzip` would), its metadata, and the multipart uploads left open."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

from tests.streams import client, unique_name


@dataclass
class Bucket:
    endpoint: str
    name: str

    @classmethod
    def create(cls, endpoint: str) -> Bucket:
        bucket = cls(endpoint, unique_name("archive"))
        client("s3", endpoint).create_bucket(Bucket=bucket.name)
        return bucket

    @property
    def s3(self) -> Any:
        return client("s3", self.endpoint)

    def keys(self) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def get(self, key: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.s3.get_object(Bucket=self.name, Key=key)
        return answer

    def lines_of(self, key: str) -> list[str]:
        answer = self.get(key)
        body = answer["Body"].read()
        if answer.get("ContentEncoding") == "gzip":
            body = gzip.decompress(body)
        assert body.endswith(b"\n") or not body, f"{key} does not end with a whole line"
        return body.decode("utf-8").split("\n")[:-1]

    def lines(self) -> list[str]:
        """Every line of every object, object by object in key order."""
        return [line for key in sorted(self.keys()) for line in self.lines_of(key)]

    def open_uploads(self) -> list[str]:
        return [upload["Key"] for upload in self.s3.list_multipart_uploads(Bucket=self.name).get("Uploads", [])]

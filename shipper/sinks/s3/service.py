"""The S3 calls the sink makes: PutObject, a multipart upload (create, parts, complete), and finding
and aborting the uploads an earlier run left for a key. Errors are raised as the SDK's."""

from __future__ import annotations

import urllib.parse
from typing import Any

from shipper.sinks.aws.client import AwsClient
from shipper.sinks.s3.config import S3Options

CONTENT_TYPES = {"ndjson": "application/x-ndjson", "text": "text/plain; charset=utf-8"}


class S3Api(AwsClient):
    service = "s3"
    options: S3Options

    def __init__(self, sink_id: str, options: S3Options, connections: int):
        super().__init__(sink_id, options, connections)
        self.bucket = options.bucket
        self._object: dict[str, Any] = {"ContentType": CONTENT_TYPES[options.encoding]}
        if options.compression == "gzip":
            self._object["ContentEncoding"] = "gzip"
        if options.server_side_encryption:
            self._object["ServerSideEncryption"] = options.server_side_encryption
        if options.kms_key_id:
            self._object["SSEKMSKeyId"] = options.kms_key_id
        if options.storage_class:
            self._object["StorageClass"] = options.storage_class
        if options.tags:
            self._object["Tagging"] = urllib.parse.urlencode(options.tags, quote_via=urllib.parse.quote)

    async def put_object(self, key: str, body: bytes) -> None:
        await self.call("PutObject", Bucket=self.bucket, Key=key, Body=body, **self._object)

    async def create_upload(self, key: str) -> str:
        response = await self.call("CreateMultipartUpload", Bucket=self.bucket, Key=key, **self._object)
        upload_id: str = response["UploadId"]
        return upload_id

    async def upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> str:
        response = await self.call("UploadPart", Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                   Body=body)
        etag: str = response["ETag"]
        return etag

    async def complete_upload(self, key: str, upload_id: str, etags: list[str]) -> None:
        parts = [{"PartNumber": number, "ETag": etag} for number, etag in enumerate(etags, 1)]
        await self.call("CompleteMultipartUpload", Bucket=self.bucket, Key=key, UploadId=upload_id,
                        MultipartUpload={"Parts": parts})

    async def uploads_of(self, key: str) -> list[str]:
        """The multipart uploads in progress for exactly `key` (at most 1,000: an earlier run's few)."""
        response = await self.call("ListMultipartUploads", Bucket=self.bucket, Prefix=key)
        return [upload["UploadId"] for upload in response.get("Uploads") or [] if upload.get("Key") == key]

    async def abort_upload(self, key: str, upload_id: str) -> None:
        await self.call("AbortMultipartUpload", Bucket=self.bucket, Key=key, UploadId=upload_id)

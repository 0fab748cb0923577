"""Options of the `s3` sink: objects of newline-delimited records in one bucket, named by a template."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shipper.config.units import ByteSize, Duration
from shipper.sinks.aws.config import AwsOptions
from shipper.templates import Template

UUID_FIELD = ("uuid",)  # `{uuid}` in `key`: the object's own identifier, not a record field
MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3: every part of a multipart upload but the last holds at least 5 MiB
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TAG_CHARS = re.compile(r"[\w .:/=+\-@]*", re.UNICODE)  # what S3 accepts in a tag's key and value
STORAGE_CLASSES = ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
                   "DEEP_ARCHIVE", "GLACIER_IR")


class S3Options(AwsOptions):
    """Amazon S3: each partition's records (the fields `key` names) gathered into objects, written with
    PutObject, or a multipart upload above `multipart_threshold`."""

    type: Literal["s3"]
    bucket: str = Field(description="The bucket's name, e.g. `node-logs-archive`.")
    key: str = Field(
        "{kubernetes.namespace}/%Y/%m/%d/%H/{uuid}.ndjson.gz",
        description="Template of each object's key: `{field}` from the records (an object holds records that agree "
        "on every field named; a record without one gets `_unknown`, counted in "
        "`shipper_events_fallback_named_total`), strftime's `%Y` `%m` `%d` `%H` `%M` `%S` from the object's first "
        "record (UTC), and `{uuid}`, which must be there: the object's own identifier (unique over nodes and "
        "restarts; an object sent again after a crash keeps its key, so it replaces itself).",
    )
    encoding: Literal["ndjson", "text"] = Field(
        "ndjson", description="`ndjson`: each record as a JSON object with every field (in `layout`'s names), one "
        "a line (what Athena's JSON SerDe reads); `text`: the message alone, one a line.",
    )
    compression: Literal["gzip", "none"] = Field(
        "gzip", description="`gzip`: each object is one gzip stream, stored with `Content-Encoding: gzip`.")
    compression_level: int = Field(
        6, ge=1, le=9, description="gzip's level, as Vector's `compression.level`: 6 (zlib's default, as Fluent "
        "Bit and Vector) stores the least; 1 compresses at under half its CPU for objects about 30% larger "
        "(with `encoding: ndjson`, the agent's whole CPU per line from about 1.8x the CloudWatch path's to 1.25x).",
    )
    max_object_bytes: ByteSize = Field(
        64 * MIB, ge=1024, le=5 * 1024 * MIB,
        description="An object is closed once its records (before compression) reach this size.")
    max_object_age: Duration = Field(
        300.0, gt=0, description="... or once its first record has waited this long (`5m`).")
    multipart_threshold: ByteSize = Field(
        16 * MIB, ge=0, description="Objects larger than this (as stored) are sent as multipart uploads, in parts "
        "of `multipart_part_size`; smaller ones with one PutObject.",
    )
    multipart_part_size: ByteSize = Field(
        8 * MIB, ge=MIN_PART, le=5 * 1024 * MIB, description="Size of each part of a multipart upload (the last may "
        "be smaller). S3 takes at least 5 MiB and at most 10,000 parts.",
    )
    server_side_encryption: Literal["AES256", "aws:kms"] | None = Field(
        None, description="Encryption at rest S3 applies (`AES256`: S3's keys; `aws:kms`: a KMS key). Unset: the "
        "bucket's default encryption.",
    )
    kms_key_id: str | None = Field(
        None, min_length=1, max_length=2048,
        description="With `aws:kms`: the key's ID or ARN (default: the account's aws/s3 key). A key S3 cannot use "
        "(disabled, denied) makes the sink not ready; records wait in the spool.",
    )
    storage_class: Literal[STORAGE_CLASSES] | None = Field(  # type: ignore[valid-type]
        None, description="The objects' storage class (e.g. `STANDARD_IA`); unset: `STANDARD`.")
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tags set on every object (at most 10; keys up to 128 characters, values "
        "up to 256).",
    )
    max_requests_in_flight: int = Field(
        4, ge=1, le=64, description="Objects uploaded at once (over all partitions).")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.fullmatch(value) or ".." in value:
            raise ValueError(f"{value!r} is not a bucket name (3-63 lowercase letters, digits, '.', '-')")
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        template = Template(value)  # raises ValueError naming the problem
        if UUID_FIELD not in template.fields:
            raise ValueError("must hold {uuid}: without it two objects of one partition and hour would have one key, "
                             "and the later would replace the earlier")
        if value.startswith("/"):
            raise ValueError("must not start with '/' (S3 would keep an empty first segment)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 10:
            raise ValueError(f"{len(value)} tags: S3 takes at most 10 on an object")
        for name, text in value.items():
            if not 1 <= len(name) <= 128 or len(text) > 256 or not _TAG_CHARS.fullmatch(name + text):
                raise ValueError(f"tag {name!r}: keys are 1-128 and values 0-256 letters, digits, spaces and _.:/=+-@")
        return value

    @model_validator(mode="after")
    def _kms(self) -> S3Options:
        if self.kms_key_id is not None and self.server_side_encryption != "aws:kms":
            raise ValueError("kms_key_id needs server_side_encryption: aws:kms")
        return self

    def templates(self) -> dict[str, Template]:
        template = Template(self.key, self.layout)
        template.parts = [part for part in template.parts if part != UUID_FIELD]
        template.fields = [field for field in template.fields if field != UUID_FIELD]
        return {"key": template}

"""What an AWS SDK error is: its code, whether a certificate check is behind it, whether the answer
refuses our credentials, what a call that got no answer at all means, and each service's codes that
mean other than "try again" (sinks/retry.py's `classify` reads them)."""

from __future__ import annotations

import asyncio
import enum
import ssl
from dataclasses import dataclass

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

CREDENTIALS_REFUSED = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
    "MissingAuthenticationToken", "OptInRequired", "UnauthorizedOperation",
})


@dataclass(frozen=True)
class ServiceErrors:
    """The error codes of one AWS service that mean other than "try again"."""

    missing: frozenset[str]  # the destination does not exist
    refused: frozenset[str]  # this destination refuses us (may be one of many a sink writes to)
    invalid: frozenset[str]  # the request itself is refused


CLOUDWATCH_LOGS = ServiceErrors(
    missing=frozenset({"ResourceNotFoundException"}),
    refused=frozenset({"AccessDenied", "AccessDeniedException", "KMSInvalidStateException"}),
    invalid=frozenset({"InvalidParameterException", "ValidationException", "SerializationException",
                       "MalformedQueryException"}),
)
RECORD_STREAMS = ServiceErrors(  # Kinesis Data Streams and Firehose
    missing=frozenset({"ResourceNotFoundException"}),
    refused=frozenset({"AccessDenied", "AccessDeniedException", "KMSAccessDeniedException", "KMSDisabledException",
                       "KMSInvalidStateException", "KMSNotFoundException", "KMSOptInRequired",
                       "InvalidKMSResourceException"}),
    invalid=frozenset({"InvalidArgumentException", "ValidationException", "SerializationException",
                       "InvalidParameterException"}),
)
S3 = ServiceErrors(
    missing=frozenset({"NoSuchBucket"}),
    refused=frozenset({"AccessDenied", "AllAccessDisabled", "KMS.DisabledException", "KMS.NotFoundException",
                       "KMS.KMSInvalidStateException", "KMS.AccessDeniedException", "KMS.InvalidKeyUsageException",
                       "KMS.KMSOptInRequired"}),
    invalid=frozenset({"InvalidArgument", "InvalidRequest", "InvalidStorageClass", "InvalidTag", "KeyTooLongError",
                       "EntityTooSmall", "EntityTooLarge", "MalformedXML", "InvalidPart", "InvalidPartOrder",
                       "InvalidBucketName", "InvalidEncryptionAlgorithmError"}),
)
RECORD_RETRIED = frozenset({  # a record's ErrorCode within a PutRecords/PutRecordBatch that succeeded: send it again
    "ProvisionedThroughputExceededException", "ServiceUnavailableException", "ServiceUnavailable", "InternalFailure",
    "InternalFailureException", "ThrottlingException", "KMSThrottlingException",
})


class Unanswered(enum.Enum):
    """A call that got no answer from AWS."""

    NO_CREDENTIALS = "no_credentials"  # none to sign with: an operator must act
    UNSENT = "unsent"  # no connection: nothing was sent
    AMBIGUOUS = "ambiguous"  # the connection failed after sending: it may have landed
    NOT_YET = "not_yet"  # the SDK could not go on yet (credentials not refreshed): nothing was sent


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__


def http_status(error: ClientError) -> int:
    status: int = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status


def certificate_refused(error: BaseException) -> bool:
    """Whether a certificate verification failure is behind `error` (botocore wraps aiohttp's)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError | aiohttp.ClientConnectorCertificateError):
            return True
        seen.add(id(current))
        wrapped = getattr(current, "kwargs", {}).get("error") if isinstance(current, BotoCoreError) else None
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__ or current.__context__
    return False


def credentials_refused(error: ClientError) -> bool:
    """AWS refused who we are (unknown key, bad signature, not subscribed, a 403 that is not throttling)."""
    code = error_code(error)
    return code in CREDENTIALS_REFUSED or (http_status(error) == 403 and "Throttl" not in code)


def unanswered(error: BaseException) -> Unanswered:
    """What `error`, raised by a call that got no AWS answer, means; any other error is raised again."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return Unanswered.NO_CREDENTIALS
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return Unanswered.UNSENT
    if isinstance(error, HTTPClientError | aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return Unanswered.AMBIGUOUS
    if isinstance(error, BotoCoreError):
        return Unanswered.NOT_YET
    raise error

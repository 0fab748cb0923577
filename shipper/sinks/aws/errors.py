"""What an AWS SDK error is: its code, and whether a certificate check is behind it."""

from __future__ import annotations

import ssl

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError


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

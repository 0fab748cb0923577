"""Errors as botocore and aiohttp raise them, for the AWS sinks' classification tests."""

from __future__ import annotations

import aiohttp
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError


def api_error(code: str, status: int, operation: str = "PutLogEvents") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


UNSENT = [EndpointConnectionError(endpoint_url="http://x"), ConnectTimeoutError(endpoint_url="http://x")]
MAYBE_LANDED = [ReadTimeoutError(endpoint_url="http://x"), aiohttp.ServerDisconnectedError()]

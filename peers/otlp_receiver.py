"""An OTLP/HTTP logs receiver on loopback that reads every request with the OpenTelemetry project's own
definitions (opentelemetry-proto) and refuses what they do not parse.

POST /v1/logs with `application/x-protobuf` or `application/json` (gzip bodies decompressed): a body
that does not parse as an ExportLogsServiceRequest, or any other path, method or content type, gets
400 and counts in `malformed`. Otherwise the answer is, in this order: the next of the statuses
queued by `answer(status, count, retry_after)`; a partial success rejecting the records whose body
holds a text given to `reject_containing` (200, ExportLogsServiceResponse with rejected_log_records
and an error message, in the request's encoding); else 200 and the request is *accepted*.
"""

from __future__ import annotations

import gzip
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from peers.server import ThreadedServer

CONTENT_TYPES = ("application/x-protobuf", "application/json")


@dataclass
class LogRecord:
    resource: dict[str, Any]
    body: str
    time_unix_nano: int
    severity_number: int
    severity_text: str
    attributes: dict[str, Any]


def python_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [python_of(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: python_of(pair.value) for pair in value.kvlist_value.values}
    return getattr(value, kind)


class OtlpReceiver(ThreadedServer):
    def __init__(self, keep_requests: bool = True) -> None:
        """`keep_requests=False` (benchmarks): accepted requests are only counted, by records, in `count`."""
        super().__init__()
        self.keep_requests = keep_requests
        self.count = 0
        self.requests: list[ExportLogsServiceRequest] = []  # accepted, in arrival order
        self.content_types: list[str] = []
        self.malformed = 0
        self.rejected = 0
        self._queued: deque[tuple[int, float | None]] = deque()
        self._rejecting: list[str] = []
        self._lock = threading.Lock()

    def answer(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        with self._lock:
            self._queued.extend([(status, retry_after)] * count)

    def reject_containing(self, text: str) -> None:
        with self._lock:
            self._rejecting.append(text)

    def records(self) -> list[LogRecord]:
        """Every log record accepted, in order, with its resource's attributes."""
        with self._lock:
            requests = list(self.requests)
        return [LogRecord({a.key: python_of(a.value) for a in resource.resource.attributes}, record.body.string_value,
                          record.time_unix_nano, record.severity_number, record.severity_text,
                          {a.key: python_of(a.value) for a in record.attributes})
                for request in requests for resource in request.resource_logs for scope in resource.scope_logs
                for record in scope.log_records]

    def bodies(self) -> list[str]:
        return [record.body for record in self.records()]

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{path:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        content_type = request.headers.get("Content-Type", "")
        parsed = self._parsed(request, body, content_type) if request.path == "/v1/logs" else None
        if parsed is None:
            with self._lock:
                self.malformed += 1
            return web.Response(status=400, text="not an OTLP logs request")
        with self._lock:
            if self._queued:
                status, retry_after = self._queued.popleft()
                return web.Response(status=status, headers={"Retry-After": f"{retry_after:g}"} if retry_after else {})
            rejected = self._reject(parsed)
            self.count += sum(len(scope.log_records) for logs in parsed.resource_logs for scope in logs.scope_logs)
            if self.keep_requests:
                self.requests.append(parsed)
                self.content_types.append(content_type)
            self.rejected += rejected
        answer = ExportLogsServiceResponse()
        if rejected:
            answer.partial_success.rejected_log_records = rejected
            answer.partial_success.error_message = f"{rejected} record(s) refused by the test"
        if content_type == "application/json":
            return web.Response(body=json_format.MessageToJson(answer).encode(), content_type="application/json")
        return web.Response(body=answer.SerializeToString(), content_type="application/x-protobuf")

    @staticmethod
    def _parsed(request: web.Request, body: bytes, content_type: str) -> ExportLogsServiceRequest | None:
        if request.method != "POST" or content_type not in CONTENT_TYPES:
            return None
        parsed = ExportLogsServiceRequest()
        try:
            if content_type == "application/json":
                json_format.Parse(body, parsed)
            else:
                parsed.ParseFromString(body)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError):
            return None
        return parsed

    def _reject(self, request: ExportLogsServiceRequest) -> int:
        """Takes out of `request` the records whose body holds a rejected text; how many."""
        rejected = 0
        for resource in request.resource_logs:
            for scope in resource.scope_logs:
                kept = [r for r in scope.log_records if not any(t in r.body.string_value for t in self._rejecting)]
                rejected += len(scope.log_records) - len(kept)
                del scope.log_records[:]
                scope.log_records.extend(kept)
        return rejected

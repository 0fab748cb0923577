"""An HTTP proxy in front of LocalStack that injects AWS faults on command.

Faults apply to requests of one API operation (PutLogEvents by default; PutRecordBatch and PutRecords
for the Firehose and Kinesis sinks; PutObject and the multipart calls for S3) and are used up in order:
- `throttle(n)`: answer 400 ThrottlingException without forwarding;
- `unavailable(n, status)`: answer 500/503 without forwarding;
- `reset(n)`: close the connection without forwarding (the request never landed);
- `reset_after_forward(n)`: forward, let LocalStack accept, then close the connection without the
  answer (the request landed, the client cannot know);
- `hang(n)`: never answer (the client's read timeout fires);
- `deny(on)`: answer 400 AccessDeniedException until switched off;
- `slow(seconds)`: forward, then hold every answer this long (a window in which a batch has landed
  but the agent does not know it yet);
- `outage(on)`: close the connection of every request, of every operation, until switched off (the
  backend is down);
- `refuse_records(n, every, code)`: Firehose/Kinesis partial failure: of each of the next n calls,
  every `every`-th record (the 1st, the 1+every-th...) is refused with `code` and not forwarded; the
  others are forwarded and the answers merged in their places, as the service answers;
- `clear()`: every queued fault dropped and every switch off.
LocalStack's PutLogEvents (moto) reports `tooNewLogEventStartIndex` as the index of the *last* event
that is too new, where CloudWatch reports the first; the proxy rewrites it to CloudWatch's meaning,
so an agent counting rejections as AWS documents them is measured against AWS's behaviour.
Requests are counted by operation (`X-Amz-Target`, the `Action` of a query-protocol call such as
STS AssumeRoleWithWebIdentity, or an S3 object operation by its method and query), and the access key
ids that signed them are kept by operation (`access_keys`); `refused` counts the records refused by
`refuse_records`; `landed` keeps the request and answer of every call of the faulted operation that
upstream took, answered or not.
It runs its own event loop in a thread, so synchronous tests can drive it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter, defaultdict, deque
from typing import NoReturn

import aiohttp
from aiohttp import web

from peers.server import ThreadedServer

TOO_NEW_MS = 2 * 3600 * 1000
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class FaultProxy(ThreadedServer):
    def __init__(self, upstream: str, operation: str = "PutLogEvents"):
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.operation = operation
        self.faults: deque[tuple[str, int]] = deque()
        self.denying = False
        self.down = False
        self.delay = 0.0
        self.seen: Counter = Counter()  # operation -> requests received
        self.access_keys: defaultdict[str, set[str]] = defaultdict(set)  # operation -> access key ids signing it
        self.answers: dict[str, bytes] = {}  # operation -> the last answer forwarded from upstream
        self.landed: list[tuple[bytes, bytes]] = []  # (request, answer) of every call of `operation` upstream took
        self.denied: set[str] = set()  # operations refused with AccessDenied (besides `denying`)
        self.injected: Counter = Counter()  # fault -> times applied
        self.refused = 0  # records refused by refuse_records
        self._lock = threading.Lock()

    # -- commands ----------------------------------------------------------------------------

    def throttle(self, count: int) -> None:
        self._add("throttle", count)

    def unavailable(self, count: int, status: int = 503) -> None:
        self._add(f"status:{status}", count)

    def reset(self, count: int) -> None:
        self._add("reset", count)

    def reset_after_forward(self, count: int) -> None:
        self._add("reset_after_forward", count)

    def refuse_records(self, count: int, every: int = 3, code: str = "ServiceUnavailableException") -> None:
        self._add(f"refuse:{every}:{code}", count)

    def hang(self, count: int) -> None:
        self._add("hang", count)

    def deny(self, on: bool, operation: str | None = None) -> None:
        """AccessDenied for the proxy's operation, or for `operation` alone when given."""
        if operation is None:
            self.denying = on
        elif on:
            self.denied.add(operation)
        else:
            self.denied.discard(operation)

    def outage(self, on: bool) -> None:
        self.down = on

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def clear(self) -> None:
        """No fault left queued or switched on."""
        with self._lock:
            self.faults.clear()
        self.denying = self.down = False
        self.delay = 0.0

    def pending(self) -> int:
        with self._lock:
            return len(self.faults)

    def _add(self, fault: str, count: int) -> None:
        with self._lock:
            self.faults.extend((fault, 0) for _ in range(count))

    # -- serving -----------------------------------------------------------------------------

    auto_decompress = False  # bodies go upstream as the client sent them (an S3 object with its checksum)

    async def on_start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)

    async def on_stop(self) -> None:
        await self._session.close()

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        operation = (request.headers.get("X-Amz-Target", "").rpartition(".")[2] or _query_action(body)
                     or _s3_operation(request))
        self.seen[operation] += 1
        signed_by = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        if signed_by:
            self.access_keys[operation].add(signed_by[1])
        if self.down:
            self.injected["outage"] += 1
            request.transport.abort()
            raise ConnectionResetError
        fault = self._next_fault() if operation == self.operation else None
        if (self.denying and operation == self.operation) or operation in self.denied:
            return _error(400, "AccessDeniedException", "User is not authorized to perform logs:PutLogEvents")
        if fault == "throttle":
            return _error(400, "ThrottlingException", "Rate exceeded")
        if fault and fault.startswith("status:"):
            status = int(fault.split(":")[1])
            return _error(status, "ServiceUnavailableException" if status == 503 else "InternalFailure", "injected")
        if fault == "reset":
            _cut(request)
        if fault == "hang":
            await asyncio.sleep(3600)
        if fault and fault.startswith("refuse:"):
            _, every, code = fault.split(":", 2)
            return await self._refuse_records(request, body, operation, int(every), code)
        status, headers, answer = await self._forward(request, body)
        self.answers[operation] = answer
        if operation == self.operation and status == 200:
            self.landed.append((body, answer))
        if operation == "PutLogEvents" and b"tooNewLogEventStartIndex" in answer:
            answer = _first_too_new(body, answer)
        if fault == "reset_after_forward":
            _cut(request)
        if self.delay and operation == self.operation:
            await asyncio.sleep(self.delay)
        return web.Response(status=status, headers=headers, body=answer)

    def _next_fault(self) -> str | None:
        with self._lock:
            if not self.faults:
                return None
            fault, _ = self.faults.popleft()
        self.injected[fault] += 1
        return fault

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=body) as answer:
            payload = await answer.read()
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
            return answer.status, out, payload


    async def _refuse_records(self, request: web.Request, body: bytes, operation: str, every: int,
                              code: str) -> web.Response:
        """Forward the records not refused; answer for all, each in its place, as the service does."""
        answers_member, failed_member = _PARTIAL[operation]
        call = json.loads(body)
        records = call["Records"]
        refused = set(range(0, len(records), every))
        call["Records"] = [r for i, r in enumerate(records) if i not in refused]
        status, headers, answer = await self._forward(request, json.dumps(call).encode())
        if status != 200:
            return web.Response(status=status, headers=headers, body=answer)
        result = json.loads(answer)
        taken = iter(result[answers_member])
        result[answers_member] = [{"ErrorCode": code, "ErrorMessage": "injected"} if i in refused else next(taken)
                                  for i in range(len(records))]
        result[failed_member] = result.get(failed_member, 0) + len(refused)
        self.refused += len(refused)
        return web.Response(status=200, headers=headers, body=json.dumps(result).encode())


_PARTIAL = {"PutRecordBatch": ("RequestResponses", "FailedPutCount"), "PutRecords": ("Records", "FailedRecordCount")}


def _first_too_new(request: bytes, answer: bytes) -> bytes:
    """CloudWatch's `tooNewLogEventStartIndex`: the first event more than 2 hours ahead (moto's rule)."""
    events = json.loads(request)["logEvents"]
    result = json.loads(answer)
    newest = time.time() * 1000 + TOO_NEW_MS
    rejected = result["rejectedLogEventsInfo"]
    rejected["tooNewLogEventStartIndex"] = next(
        (i for i, event in enumerate(events) if event["timestamp"] > newest), rejected["tooNewLogEventStartIndex"])
    return json.dumps(result).encode()


def _query_action(body: bytes) -> str:
    for pair in body.split(b"&"):
        if pair.startswith(b"Action="):
            return pair[7:].decode("ascii", "replace")
    return ""


def _s3_operation(request: web.Request) -> str:
    """The S3 operation of a path-style REST request on an object or a bucket's uploads ('' for others)."""
    query, method = request.query, request.method
    if "uploads" in query:
        return {"POST": "CreateMultipartUpload", "GET": "ListMultipartUploads"}.get(method, "")
    if "uploadId" in query:
        if method == "PUT":
            return "UploadPart"
        return {"POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}.get(method, "")
    return "PutObject" if method == "PUT" and request.path.count("/") >= 2 else ""


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"__type": code, "message": message}, status=status,
                             content_type="application/x-amz-json-1.1")


def _cut(request: web.Request) -> NoReturn:
    """Reset the client's connection (if the client has not gone already: a killed agent's has)."""
    if request.transport is not None:
        request.transport.abort()
    raise ConnectionResetError

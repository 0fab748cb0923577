"""A Firehose endpoint fast enough for throughput benchmarks (LocalStack writes an S3 object per
call): PutRecordBatch over the JSON 1.1 protocol, its limits enforced (500 records, 4 MiB, 1,000 KiB
per record: a call that breaks one is refused with InvalidArgumentException), every record taken.
It counts records and the newline-delimited lines in them; it keeps nothing else."""

from __future__ import annotations

import base64
import gzip

import orjson
from aiohttp import web

from peers.server import ThreadedServer

MAX_RECORDS = 500
MAX_CALL_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1_024_000


class FakeFirehose(ThreadedServer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.records = 0
        self.lines = 0
        self.refused = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Amz-Target", "").rpartition(".")[2] != "PutRecordBatch":
            return _answer({"__type": "UnknownOperationException"}, 400)
        call = orjson.loads(await request.read())
        data = [base64.b64decode(record["Data"]) for record in call["Records"]]
        if len(data) > MAX_RECORDS or sum(map(len, data)) > MAX_CALL_BYTES or \
                any(len(d) > MAX_RECORD_BYTES for d in data):
            self.refused += 1
            return _answer({"__type": "InvalidArgumentException", "message": "a limit is broken"}, 400)
        self.calls += 1
        self.records += len(data)
        self.lines += sum((gzip.decompress(d) if d[:2] == b"\x1f\x8b" else d).count(b"\n") for d in data)
        return _answer({"FailedPutCount": 0, "Encrypted": False,
                        "RequestResponses": [{"RecordId": str(i)} for i in range(len(data))]}, 200)


def _answer(body: dict, status: int) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/x-amz-json-1.1")

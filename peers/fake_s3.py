"""An S3 endpoint fast enough for throughput benchmarks (LocalStack stores every object): path-style
PutObject and the multipart calls, with S3's rules on parts (every part but the last at least 5 MiB,
at most 10,000, completed in order with the ETags given); `to_abort` uploads are aborted under the
client at their next part, as a bucket's lifecycle rule may. It counts objects and their lines (a gzip
object, by its Content-Encoding, decompressed first); it keeps no object."""

from __future__ import annotations

import gzip
import hashlib
import itertools

from aiohttp import web

from peers.server import ThreadedServer

MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10_000


class FakeS3(ThreadedServer):
    auto_decompress = False  # an object arrives as stored: gzip stays gzip

    def __init__(self) -> None:
        super().__init__()
        self.objects = 0
        self.lines = 0
        self.refused = 0  # calls that broke a rule of S3's
        self.to_abort = 0  # multipart uploads to abort under the client at their next part (a lifecycle rule)
        self._uploads: dict[str, tuple[str, dict[int, bytes], str | None]] = {}  # id -> key, parts, encoding
        self._ids = itertools.count()

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{bucket}/{key:.+}", self._object)
        app.router.add_get("/{bucket}", self._bucket)

    async def _object(self, request: web.Request) -> web.Response:
        query, key = request.query, request.match_info["key"]
        body = await request.read()
        if request.method == "PUT" and "uploadId" not in query:
            self._stored(body, request.headers.get("Content-Encoding"))
            return web.Response(headers={"ETag": _etag(body)})
        if request.method == "POST" and "uploads" in query:
            upload_id = f"upload-{next(self._ids)}"
            self._uploads[upload_id] = (key, {}, request.headers.get("Content-Encoding"))
            return _xml("InitiateMultipartUploadResult", f"<Key>{key}</Key><UploadId>{upload_id}</UploadId>")
        upload = self._uploads.get(query.get("uploadId", ""))
        if upload is None:
            return _error(404, "NoSuchUpload")
        if request.method == "PUT" and self.to_abort:
            self.to_abort -= 1
            del self._uploads[query["uploadId"]]
            return _error(404, "NoSuchUpload")
        if request.method == "PUT":
            number = int(query["partNumber"])
            if not 1 <= number <= MAX_PARTS:
                return self._refuse("InvalidArgument")
            upload[1][number] = body
            return web.Response(headers={"ETag": _etag(body)})
        if request.method == "DELETE":
            del self._uploads[query["uploadId"]]
            return web.Response(status=204)
        parts = [upload[1][n] for n in sorted(upload[1])]
        if sorted(upload[1]) != list(range(1, len(parts) + 1)) or any(len(p) < MIN_PART for p in parts[:-1]):
            return self._refuse("EntityTooSmall" if parts else "InvalidPart")
        del self._uploads[query["uploadId"]]
        self._stored(b"".join(parts), upload[2])
        return _xml("CompleteMultipartUploadResult", f"<Key>{key}</Key><ETag>{_etag(b'')}</ETag>")

    async def _bucket(self, request: web.Request) -> web.Response:
        return _xml("ListMultipartUploadsResult", "<IsTruncated>false</IsTruncated>")

    def _stored(self, body: bytes, encoding: str | None) -> None:
        self.objects += 1
        self.lines += (gzip.decompress(body) if encoding == "gzip" else body).count(b"\n")

    def _refuse(self, code: str) -> web.Response:
        self.refused += 1
        return _error(400, code)


def _etag(body: bytes) -> str:
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def _xml(root: str, inner: str) -> web.Response:
    return web.Response(text=f'<?xml version="1.0" encoding="UTF-8"?><{root}>{inner}</{root}>',
                        content_type="application/xml")


def _error(status: int, code: str) -> web.Response:
    return web.Response(status=status, content_type="application/xml",
                        text=f"<Error><Code>{code}</Code><Message>{code}</Message></Error>")

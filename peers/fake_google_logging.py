"""A strict stand-in for Google Cloud Logging on loopback: entries.write, the OAuth token endpoint a
service account's key is exchanged at, and the GKE/GCE metadata server, in one server.

- POST /token: the JWT bearer grant (RFC 7523) as Google's token endpoint takes it: the assertion's
  RS256 signature checked with the public key of `service_account_file()`'s key, its `kid`, `iss`,
  `aud` (Google's token endpoint), `scope` and lifetime; answers a token valid for `token_lifetime` seconds.
- GET /computeMetadata/v1/...: what the metadata server tells (the `Metadata-Flavor: Google` header
  required both ways): the default service account, its token, the project, the instance's id and
  zone, the cluster's name and location (`metadata` holds them).
- POST /v2/entries:write: the Authorization header must hold a token issued here and not expired (else
  401); the body must be JSON (gzip taken) of at most 10 MB, with only the fields the API documents.
  Each entry, with the request's logName and resource where it has none, is checked as the API
  documents it: logName of `projects/<project>/logs/<id>` with a
  URL-encoded id of at most 511 characters of `[A-Za-z0-9/_.-]`, a resource of a known type with exactly
  its labels, one payload, an RFC 3339 timestamp at most a day ahead, a LogSeverity, at most 64
  string labels, at most 256 KiB. Invalid entries (and those holding a text given to
  `reject_containing`) fail alone under partialSuccess: 400 INVALID_ARGUMENT with
  WriteLogEntriesPartialErrors naming them, the others stored; without partialSuccess nothing is.
  Statuses queued with `answer()` come first.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
import urllib.parse
from collections import deque
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from peers.server import ThreadedServer

SCOPE = "https://www.googleapis.com/auth/logging.write"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what Google's token endpoint takes as `aud`
MAX_REQUEST = 10_000_000
MAX_ENTRY = 256 * 1024
RESOURCE_LABELS = {
    "k8s_container": {"project_id", "location", "cluster_name", "namespace_name", "pod_name", "container_name"},
    "gce_instance": {"project_id", "instance_id", "zone"},
    "global": {"project_id"},
}
SEVERITIES = {"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"}
REQUEST_FIELDS = {"logName", "resource", "labels", "entries", "partialSuccess", "dryRun"}
ENTRY_FIELDS = {"logName", "resource", "protoPayload", "textPayload", "jsonPayload", "timestamp", "receiveTimestamp",
                "severity", "insertId", "httpRequest", "labels", "operation", "trace", "spanId", "traceSampled",
                "sourceLocation", "split"}
LOG_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-.")


class Invalid(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeGoogleCloud(ThreadedServer):
    def __init__(self, project_id: str = "shipper-test", token_lifetime: float = 3600.0, keep: bool = True) -> None:
        """`keep=False` (benchmarks): the requests are parsed and their entries counted in `count`, not
        checked one by one or kept (the checks cost this process 3x what the agent spends on a line)."""
        super().__init__()
        self.keep, self.count = keep, 0
        self.project_id, self.token_lifetime = project_id, token_lifetime
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(8)
        self.client_email = f"shipper@{project_id}.iam.gserviceaccount.com"
        self.metadata: dict[str, str] = {"project/project-id": project_id, "instance/id": "4520031799277581759",
                                         "instance/zone": "projects/123/zones/europe-west1-b"}
        self.tokens: dict[str, float] = {}  # token -> when it expires
        self.tokens_issued = {"key": 0, "metadata": 0}
        self.stored: list[dict[str, Any]] = []  # entries written, in order
        self.requests = 0
        self.unauthorized = 0
        self.refused: list[str] = []  # why each refused request or entry was refused
        self._queued: deque[int] = deque()
        self._rejecting: list[str] = []
        self._lock = threading.Lock()

    # --- what tests set and read

    def service_account_file(self, directory: Path) -> Path:
        """A service account key file whose token_uri is this server."""
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        path = directory / "service-account.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": self.project_id, "private_key_id": self.key_id,
            "private_key": pem, "client_email": self.client_email, "client_id": "1234567890",
            "token_uri": f"{self.url}/token", "universe_domain": "googleapis.com"}))
        return path

    @property
    def private_key_text(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode().splitlines()[5]

    def answer(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._queued.extend([status] * count)

    def reject_containing(self, text: str) -> None:
        with self._lock:
            self._rejecting.append(text)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.stored)

    def messages(self) -> list[str]:
        """Each stored record's message, split entries joined again (in order of their first piece)."""
        out: list[str] = []
        pieces: dict[str, list[tuple[int, str]]] = {}
        for entry in self.entries():
            text = entry["textPayload"] if "textPayload" in entry else entry["jsonPayload"].get("message", "")
            split = entry.get("split")
            if split is None:
                out.append(text)
                continue
            if split["uid"] not in pieces:
                pieces[split["uid"]] = []
                out.append(split["uid"])
            pieces[split["uid"]].append((split.get("index", 0), text))
        joined = {uid: "".join(text for _, text in sorted(parts)) for uid, parts in pieces.items()}
        return [joined.get(text, text) for text in out]

    # --- the server

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/token", self._token)
        app.router.add_post("/v2/entries:write", self._write)
        app.router.add_get("/", self._ping)
        app.router.add_get("/computeMetadata/v1/{path:.*}", self._metadata)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        try:
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                raise Invalid("unsupported_grant_type")
            self._check_assertion(str(form.get("assertion", "")))
        except Invalid as error:
            return web.json_response({"error": "invalid_grant", "error_description": str(error)}, status=400)
        return web.json_response(self._issue("key"))

    def _check_assertion(self, assertion: str) -> None:
        try:
            head, claims, signature = assertion.split(".")
            header, body = json.loads(_unb64(head)), json.loads(_unb64(claims))
            self.key.public_key().verify(_unb64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(),
                                         hashes.SHA256())
        except Exception as error:
            raise Invalid(f"Invalid JWT Signature. ({type(error).__name__})") from None
        now = time.time()
        if header.get("alg") != "RS256" or header.get("kid") != self.key_id:
            raise Invalid("bad header")
        if body.get("iss") != self.client_email or body.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            raise Invalid("bad iss or aud")
        if SCOPE not in str(body.get("scope", "")).split():
            raise Invalid("scope")
        if not (body["iat"] - 300 <= now <= body["exp"] + 300) or body["exp"] - body["iat"] > 3600:
            raise Invalid("Invalid JWT: Token must be a short-lived token (60 minutes)")

    def _issue(self, how: str) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = time.time() + self.token_lifetime
            self.tokens_issued[how] += 1
        return {"access_token": token, "expires_in": int(self.token_lifetime), "token_type": "Bearer"}

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(text="ok", headers={"Metadata-Flavor": "Google"})

    async def _metadata(self, request: web.Request) -> web.Response:
        if request.headers.get("Metadata-Flavor") != "Google":
            return web.Response(status=403, text="Missing Metadata-Flavor:Google header.")
        path = request.match_info["path"].rstrip("/")
        flavor = {"Metadata-Flavor": "Google"}
        if path == "instance/service-accounts/default":
            return web.json_response({"email": self.client_email, "scopes": [SCOPE], "aliases": ["default"]},
                                     headers=flavor)
        if path == "instance/service-accounts/default/token":
            return web.json_response(self._issue("metadata"), headers=flavor)
        if path in self.metadata:
            return web.Response(text=self.metadata[path], headers=flavor)
        return web.Response(status=404, text="not found", headers=flavor)

    async def _write(self, request: web.Request) -> web.Response:
        with self._lock:
            self.requests += 1
            queued = self._queued.popleft() if self._queued else None
        authorization = request.headers.get("Authorization", "")
        with self._lock:
            expires = self.tokens.get(authorization.removeprefix("Bearer "), 0.0)
            if not authorization.startswith("Bearer ") or expires < time.time():
                self.unauthorized += 1
                return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if queued is not None:
            kinds = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
            return _error(queued, kinds.get(queued, "UNAVAILABLE"), "queued by the test")
        body = await request.read()
        try:
            if request.content_type != "application/json" or len(body) > MAX_REQUEST:
                raise Invalid("not JSON, or larger than 10 MB")
            payload = json.loads(body)
            if not isinstance(payload, dict) or set(payload) - REQUEST_FIELDS:
                raise Invalid(f"Invalid JSON payload received. Unknown name {sorted(set(payload) - REQUEST_FIELDS)}")
            entries = payload.get("entries")
            if not isinstance(entries, list) or not entries:
                raise Invalid("entries: at least one")
        except (Invalid, ValueError) as error:
            self.refused.append(str(error))
            return _error(400, "INVALID_ARGUMENT", str(error))
        if not self.keep:
            with self._lock:
                self.count += len(entries)
            return web.json_response({})
        defaults = {key: payload[key] for key in ("logName", "resource") if key in payload}
        entries = [{**defaults, **entry} if isinstance(entry, dict) else entry for entry in entries]
        errors: dict[str, dict[str, Any]] = {}
        valid = []
        for index, entry in enumerate(entries):
            try:
                self._check_entry(entry)
                valid.append(entry)
            except Invalid as error:
                errors[str(index)] = {"code": 3, "message": str(error)}
        with self._lock:
            self.refused += [error["message"] for error in errors.values()]
            if not errors or payload.get("partialSuccess"):
                self.count += len(valid)
                if self.keep:
                    self.stored += valid
        if not errors:
            return web.json_response({})
        details = [{"@type": "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors",
                    "logEntryErrors": errors}] if payload.get("partialSuccess") and valid else []
        return _error(400, "INVALID_ARGUMENT", "Log entry with size or content that is not valid.", details)

    def _check_entry(self, entry: Any) -> None:
        if not isinstance(entry, dict) or set(entry) - ENTRY_FIELDS:
            raise Invalid(f"Unknown name in a LogEntry: {sorted(set(entry) - ENTRY_FIELDS)}")
        if len(json.dumps(entry, ensure_ascii=False).encode()) > MAX_ENTRY:
            raise Invalid("Log entry with size 256.1K exceeds maximum size of 256.0K")
        self._check_log_name(entry.get("logName"))
        resource = entry.get("resource")
        if not isinstance(resource, dict) or resource.get("type") not in RESOURCE_LABELS:
            raise Invalid(f"resource type {resource!r}")
        labels = resource.get("labels")
        if not isinstance(labels, dict) or set(labels) != RESOURCE_LABELS[resource["type"]] or \
                not all(isinstance(value, str) and value for value in labels.values()) or \
                labels["project_id"] != self.project_id:
            raise Invalid(f"resource labels of {resource['type']}: {labels!r}")
        if ("textPayload" in entry) + ("jsonPayload" in entry) + ("protoPayload" in entry) != 1:
            raise Invalid("one payload")
        if ("textPayload" in entry and not isinstance(entry["textPayload"], str)) or \
                ("jsonPayload" in entry and not isinstance(entry["jsonPayload"], dict)):
            raise Invalid("payload type")
        try:
            when = datetime.datetime.fromisoformat(str(entry.get("timestamp")).replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"timestamp {entry.get('timestamp')!r} is not RFC 3339") from None
        if when.tzinfo is None or when.timestamp() > time.time() + 86400:
            raise Invalid("timestamp: without a zone, or more than a day ahead")
        if entry.get("severity", "DEFAULT") not in SEVERITIES:
            raise Invalid(f"severity {entry.get('severity')!r}")
        own = entry.get("labels", {})
        if not isinstance(own, dict) or len(own) > 64 or not all(isinstance(v, str) for v in own.values()):
            raise Invalid("labels")
        if not isinstance(entry.get("insertId", ""), str):
            raise Invalid("insertId")
        split = entry.get("split")
        if split is not None and (set(split) - {"uid", "index", "totalSplits"} or not isinstance(split["uid"], str)):
            raise Invalid("split")
        text = json.dumps(entry.get("textPayload", entry.get("jsonPayload")))
        with self._lock:
            if any(marker in text for marker in self._rejecting):
                raise Invalid("refused by the test")

    def _check_log_name(self, name: Any) -> None:
        prefix = f"projects/{self.project_id}/logs/"
        if not isinstance(name, str) or not name.startswith(prefix):
            raise Invalid(f"logName {name!r}")
        encoded = name[len(prefix):]
        log_id = urllib.parse.unquote(encoded)
        if "/" in encoded or not log_id or len(log_id) > 511 or set(log_id) - LOG_ID_CHARS:
            raise Invalid(f"logName {name!r}: the log ID must be URL-encoded [A-Za-z0-9/_.-], 1-511 characters")


def _error(status: int, kind: str, message: str, details: list[dict[str, Any]] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": kind}
    if details:
        error["details"] = details
    return web.json_response({"error": error}, status=status)

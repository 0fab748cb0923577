"""Access tokens for the Cloud Logging API, from credentials as Google's own clients find them
(google-auth): a credentials file (a service account's JSON key, whose RS256-signed JWT is exchanged
at its `token_uri`; or a workload identity federation file), else Application Default Credentials
(`GOOGLE_APPLICATION_CREDENTIALS`, then the GKE/GCE metadata server: Workload Identity).

Guarantees:
- A request carries a token that is not stale: google-auth counts a token stale 3m45s before its
  expiry, and the token is refreshed then, once for every request waiting on it (one lock). After
  the API answered 401, the next request refreshes it first (`invalidate`).
- No key, assertion or token reaches a log line or an error: a failure is told by its kind and the
  token endpoint's error code, never by the request or answer bodies.
- google-auth blocks: its calls run in a thread, each HTTP request bounded by `timeout`.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import google.auth
import google.auth.exceptions
import google.oauth2.credentials
import urllib3
from google.auth import aws, identity_pool
from google.auth.credentials import Credentials
from google.auth.transport.urllib3 import Request
from google.oauth2 import service_account

from shipper.observe.logs import register_secret
from shipper.sinks.http_client.service import NoCredentials

SCOPES = ("https://www.googleapis.com/auth/logging.write",)
FILE_TYPES = ("service_account", "external_account", "authorized_user")
AWS_SUBJECT_TOKEN = "urn:ietf:params:aws:token-type:aws4_request"


class CredentialsFailure(NoCredentials):
    """No token could be had; the message says why without any secret (it is logged and shown)."""


class Tokens:
    """The Authorization header of the next request."""

    def __init__(self, credentials_file: str | None, timeout: float):
        self.credentials_file, self.timeout = credentials_file, timeout
        self._credentials: Credentials | None = None
        self._stale = False
        self._lock = asyncio.Lock()
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=False)

    async def authorization(self) -> str:
        """`Bearer <token>`; CredentialsFailure when the credentials cannot be found or refreshed."""
        async with self._lock:
            if self._credentials is None:
                self._credentials = await asyncio.to_thread(self._load)
            credentials = self._credentials
            if self._stale or not credentials.valid:
                await asyncio.to_thread(self._refresh, credentials)
                register_secret(credentials.token)
                self._stale = False
            return f"Bearer {credentials.token}"

    def invalidate(self) -> None:
        """The API refused the token (401): the next request gets a new one."""
        self._stale = True

    @property
    def kind(self) -> str:
        """Which credentials are in use, for the start-up log (no secret)."""
        if self._credentials is None:
            return "not loaded yet"
        email = getattr(self._credentials, "service_account_email", None)
        return f"{type(self._credentials).__module__}.{type(self._credentials).__name__}" + \
            (f" ({email})" if isinstance(email, str) else "")

    def _load(self) -> Credentials:
        try:
            if self.credentials_file is not None:
                credentials = credentials_from_file(self.credentials_file)
            else:
                request = Request(self._http)  # type: ignore[no-untyped-call]
                credentials, _ = google.auth.default(scopes=SCOPES, request=request)
        except google.auth.exceptions.DefaultCredentialsError:
            if self.credentials_file is not None:
                raise CredentialsFailure(f"{self.credentials_file} is not a usable credentials file") from None
            raise CredentialsFailure(
                "no Google credentials found: set credentials_file or GOOGLE_APPLICATION_CREDENTIALS, or run where "
                "a metadata server answers (GKE with Workload Identity, Compute Engine)") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CredentialsFailure(f"the credentials could not be read ({type(error).__name__})") from None
        return credentials

    def _refresh(self, credentials: Credentials) -> None:
        try:
            credentials.refresh(Request(self._http))  # type: ignore[no-untyped-call]
        except google.auth.exceptions.RefreshError as error:
            raise CredentialsFailure(f"the token endpoint refused the credentials ({_error_code(error)})") from None
        except google.auth.exceptions.TransportError:
            raise CredentialsFailure("the token endpoint could not be reached") from None
        except (OSError, ValueError) as error:  # a key that does not sign, a malformed answer
            raise CredentialsFailure(f"no token could be made ({type(error).__name__})") from None

    def close(self) -> None:
        self._http.clear()


def _error_code(error: Exception) -> str:
    """The OAuth error code of a refusal (`invalid_grant`), never its description or the bodies."""
    said: Any = error.args[1] if len(error.args) > 1 else None
    if isinstance(said, dict) and isinstance(said.get("error"), str):
        return str(said["error"])[:64]
    text = str(error.args[0]) if error.args else ""
    code = text.split(":", 1)[0].strip()
    return code[:64] if code.replace("_", "").isalnum() else "refused"


def credentials_from_file(path: str) -> Credentials:
    """The credentials a file holds, by its `type`, with the loader google-auth has for that type (its
    generic loader is deprecated). An external account that runs an executable is not taken: the
    agent runs as root and runs no program a file names."""
    with open(path, "rb") as file:
        info = json.loads(file.read(1024 * 1024))
    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)  # type: ignore[no-untyped-call,no-any-return]
    if kind == "authorized_user":
        return google.oauth2.credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)  # type: ignore[no-untyped-call,no-any-return]
    if kind == "external_account" and info.get("subject_token_type") == AWS_SUBJECT_TOKEN:
        return aws.Credentials.from_info(info, scopes=SCOPES)  # type: ignore[no-untyped-call,no-any-return]
    if kind == "external_account" and "executable" not in (info.get("credential_source") or {}):
        return identity_pool.Credentials.from_info(info, scopes=SCOPES)  # type: ignore[no-untyped-call,no-any-return]
    raise ValueError(f"credentials of type {kind!r} are not taken")


def credentials_file_issue(path: str) -> str | None:
    """Why `path` cannot serve as credentials, if it cannot (read without any network call); the reason
    names no value from the file."""
    try:
        with open(path, "rb") as file:
            info = json.loads(file.read(1024 * 1024))
    except FileNotFoundError:
        return f"{path} does not exist"
    except PermissionError:
        return f"{path} cannot be read by uid {os.geteuid()}"
    except OSError as error:
        return f"{path} cannot be read: {error.strerror}"
    except ValueError:
        return f"{path} is not JSON"
    kind = info.get("type") if isinstance(info, dict) else None
    if kind not in FILE_TYPES:
        return f"{path} is not a Google credentials file (its `type` should be one of {', '.join(FILE_TYPES)})"
    try:
        credentials_from_file(path)
    except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError, TypeError):
        return (f"{path} is a {kind} file that google-auth cannot load (a field is missing or malformed, or an "
                "external account runs an executable)")
    return None

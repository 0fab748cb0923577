"""What every sink that speaks HTTP to a collector takes: where, with which headers and credentials,
how the server is trusted, how many requests at once and how long one may take. The http and
opentelemetry sinks' options build on these (one set of checks: credentials never in a URI, never in
plain text to another host unless asked, header names and values that cannot split a request)."""

from __future__ import annotations

import urllib.parse
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from shipper.config.base import Options, SinkOptions
from shipper.config.tls import TlsOptions
from shipper.config.units import Duration, is_loopback

# header names an operator may not set: the sink writes them from the body it sends
_OWN_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding", "host"})


class AuthOptions(Options):
    strategy: Literal["basic", "bearer"] = Field(description="`basic` (user and password) or `bearer` (token).")
    user: str | None = Field(None, description="User name (basic).")
    password: SecretStr | None = Field(None, description="Password (basic); e.g. `${COLLECTOR_PASSWORD}`.")
    token: SecretStr | None = Field(None, description="Token (bearer); e.g. `${COLLECTOR_TOKEN}`.")

    @model_validator(mode="after")
    def _complete(self) -> AuthOptions:
        if self.strategy == "basic" and (self.user is None or self.password is None or self.token is not None):
            raise ValueError("basic auth takes user and password (no token)")
        if self.strategy == "bearer" and (self.token is None or self.user is not None or self.password is not None):
            raise ValueError("bearer auth takes a token (no user or password)")
        return self


_CREDENTIAL_WORDS = ("auth", "token", "key", "secret", "password", "cookie", "session")


def _names_a_credential(header: str) -> bool:
    return any(word in header.lower() for word in _CREDENTIAL_WORDS)


def on_this_host(uri: str) -> bool:
    return is_loopback(urllib.parse.urlsplit(uri).hostname or "")


def checked_uri(value: str) -> str:
    """`value` if it is an http(s) URI with a host, a valid port and no credentials; else ValueError."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URI with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URI would show in logs: give them in `auth`")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as error:
        raise ValueError(f"bad port: {error}") from None
    return value


def checked_base_uri(value: str) -> str:
    """`value` if it is a base URL requests add their path to: `checked_uri`'s, with no query or fragment."""
    checked_uri(value)
    if "?" in value or "#" in value:
        raise ValueError("the base URL takes no query or fragment")
    return value


class HttpClientOptions(SinkOptions):
    """Options of a sink that POSTs to a collector at `request_uri`."""

    compression: Literal["none", "gzip"] = Field("none", description="`gzip` compresses each request body.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers of every request, e.g. `{X-Api-Key: \"${COLLECTOR_KEY}\"}`; "
        "their values are never logged."
    )
    auth: AuthOptions | None = Field(None, description="Credentials sent with every request.")
    tls: TlsOptions = Field(default_factory=TlsOptions, description="How the server's certificate is checked, "
                            "and the client certificate (https).")
    max_requests_in_flight: int = Field(
        4, ge=1, le=64, description="Requests sent before the earlier ones are answered; the spool is still "
        "acknowledged in order."
    )
    request_timeout: Duration = Field(30.0, gt=0, description="A request not answered within this is retried.")
    allow_insecure: bool = Field(
        False, description="Send credentials (`auth`, or headers named like `Authorization`, `X-Api-Key`, `*token*`) "
        "in plain text to an http:// URI that is not on this host: refused unless `true`."
    )

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name or any(c in name for c in " \t\r\n:") or not name.isascii():
                raise ValueError(f"{name!r} is not a header name")
            if name.lower() in _OWN_HEADERS:
                raise ValueError(f"{name} is set by the sink itself")
            if "\r" in text or "\n" in text:
                raise ValueError(f"the value of {name} holds a line break")
        return value

    @model_validator(mode="after")
    def _auth_or_header(self) -> HttpClientOptions:
        if self.auth is not None and any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("give the Authorization header or `auth`, not both")
        return self

    @model_validator(mode="after")
    def _no_credentials_in_plain_text(self) -> HttpClientOptions:
        credentials = ["auth"] if self.auth is not None else []
        credentials += [f"headers.{name}" for name in self.headers if _names_a_credential(name)]
        if credentials and not self.secure and not self.allow_insecure and not on_this_host(self.request_uri):
            raise ValueError(f"{credentials[0]} would travel in plain text to {self.shown_uri}: use https://, or "
                             "set allow_insecure: true")
        return self

    @property
    def request_uri(self) -> str:
        """Where the requests go."""
        raise NotImplementedError

    @property
    def secure(self) -> bool:
        return self.request_uri.lower().startswith("https:")

    @property
    def shown_uri(self) -> str:
        """The URI for logs and errors: without its query, which may carry a key."""
        parts = urllib.parse.urlsplit(self.request_uri)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def environment_issues(self) -> list[tuple[str, str]]:
        return self.tls.environment_issues() if self.secure else []

"""Options of the `forward` source: the Fluentd Forward Protocol v1 over TCP, optionally TLS."""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from shipper.config.base import FieldTree, Options, SourceOptions, readable_file_problem
from shipper.config.units import Address, ByteSize, Duration


class ServerTlsOptions(Options):
    cert_file: str = Field(description="The server's certificate (PEM), with its chain.")
    key_file: str = Field(description="Its key.")
    ca_file: str | None = Field(None, description="CA bundle of client certificates: set, clients must present one.")
    min_version: Literal["1.2", "1.3"] = Field("1.2", description="Oldest TLS version accepted.")

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2 if self.min_version == "1.2" else ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.ca_file:
            context.load_verify_locations(self.ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


class User(Options):
    username: str = Field(min_length=1, description="A user name clients give in the handshake.")
    password: SecretStr = Field(description="Its password; e.g. `${FORWARD_PASSWORD}`.")


class ForwardOptions(SourceOptions):
    """Records sent by Fluentd forward clients: Docker's `fluentd` log driver, Fluent Bit, Fluentd."""

    type: Literal["forward"]
    address: Address = Field(
        "127.0.0.1:24224", description="Where to listen. Loopback by default: Docker's log driver and a node's own "
        "forwarders connect locally; `0.0.0.0:24224` takes clients from elsewhere (then set `shared_key` and `tls`)."
    )
    tls: ServerTlsOptions | None = Field(None, description="Serve TLS (clients: Fluent Bit `tls on`).")
    shared_key: SecretStr | None = Field(
        None, description="Clients must prove they know it (the protocol's HELO/PING/PONG handshake)."
    )
    self_hostname: str = Field("shipper", description="The name this server gives in the handshake.")
    users: list[User] = Field(default_factory=list, description="With `shared_key`: clients must also log in "
                              "as one of these.")
    message_keys: list[str] = Field(
        ["log", "message"], min_length=1, description="The record's message is the first of these keys it has "
        "(Docker's driver sends `log`); the other keys become fields."
    )
    max_message_size: ByteSize = Field(
        8 * 1024 * 1024, ge=1024, description="Largest message (and largest decompressed chunk) taken; a larger one "
        "closes its connection, counted."
    )
    max_connections: int = Field(100, ge=1, le=10_000, description="Connections served at once; more are closed "
                                 "at once, counted.")
    idle_timeout: Duration = Field(300.0, gt=0, description="A connection that sends nothing this long is closed.")
    handshake_timeout: Duration = Field(10.0, gt=0, description="Longest the shared-key handshake may take.")

    @model_validator(mode="after")
    def _users_need_a_key(self) -> ForwardOptions:
        if self.users and self.shared_key is None:
            raise ValueError("users need shared_key (the handshake that carries them)")
        return self

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    def fields(self) -> FieldTree | None:
        return None  # whatever clients send

    def origin(self) -> str:
        return f"forward clients on {self.address}{' (TLS)' if self.tls else ''}"

    def environment_issues(self) -> list[tuple[str, str]]:
        if self.tls is None:
            return []
        issues = [(f"tls.{name}", problem) for name in ("cert_file", "key_file", "ca_file")
                  if (path := getattr(self.tls, name)) and (problem := readable_file_problem(path))]
        if not issues:
            try:
                self.tls.context()
            except (ssl.SSLError, ValueError) as error:
                issues.append(("tls", f"the certificate or key cannot be loaded: {error}"))
        return issues



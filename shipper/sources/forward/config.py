"""Options of the `forward` source: the Fluentd Forward Protocol v1 over TCP, optionally TLS."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from shipper.config.base import FieldTree, Options, SourceOptions
from shipper.config.tls import ServerTlsOptions
from shipper.config.units import Address, ByteSize, Duration, split_address


class User(Options):
    username: str = Field(min_length=1, description="A user name clients give in the handshake.")
    password: SecretStr = Field(description="Its password; e.g. `${FORWARD_PASSWORD}`.")

    @field_validator("password")
    @classmethod
    def _password_not_empty(cls, password: SecretStr) -> SecretStr:
        if not password.get_secret_value():
            raise ValueError("is empty: an empty password proves nothing (an unset ${VARIABLE:-}?)")
        return password


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
    max_entries_per_message: int = Field(
        65_536, ge=1, le=10_000_000, description="Most entries (records) one message may hold, counted before any is "
        "decoded; a message with more closes its connection, counted (`too_many_entries`). Also the longest array "
        "or map a record may hold."
    )
    max_depth: int = Field(64, ge=2, le=256, description="Deepest nesting of maps and lists a record may have; a "
                           "deeper record is discarded, counted (`too_deep`).")
    max_connections: int = Field(100, ge=1, le=10_000, description="Connections served at once, past their TLS and "
                                 "shared-key handshakes; more are closed at once, counted.")
    idle_timeout: Duration = Field(300.0, gt=0, description="A connection that sends nothing (or reads none of its "
                                   "acks) this long is closed.")
    handshake_timeout: Duration = Field(10.0, gt=0, description="Longest the TLS and shared-key handshakes may take; "
                                        "at most 8 connections of one address may be in them at once.")

    @model_validator(mode="after")
    def _users_need_a_key(self) -> ForwardOptions:
        if self.users and self.shared_key is None:
            raise ValueError("users need shared_key (the handshake that carries them)")
        return self

    @field_validator("shared_key")
    @classmethod
    def _key_not_empty(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not key.get_secret_value():
            raise ValueError("is empty: an empty key proves nothing (an unset ${VARIABLE:-}?); leave shared_key out "
                             "for no handshake")
        return key

    @property
    def host(self) -> str:
        return split_address(self.address)[0]

    @property
    def port(self) -> int:
        return split_address(self.address)[1]

    def fields(self) -> FieldTree | None:
        return None  # whatever clients send

    def unauthenticated_clients(self) -> bool:
        return self.shared_key is None

    def origin(self) -> str:
        return f"forward clients on {self.address}{' (TLS)' if self.tls else ''}"

    def environment_issues(self) -> list[tuple[str, str]]:
        return self.tls.environment_issues() if self.tls is not None else []

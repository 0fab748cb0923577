"""The forward protocol's shared-key handshake: HELO from us, PING from the client, PONG from us.

The client proves it knows the shared key without sending it: sha512(salt + its hostname + our
nonce + key). With users, it also proves a password against our one-time auth salt. Our PONG proves
we know the key too. Comparisons take constant time; nothing of the key or the passwords is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

import msgpack


class Handshake:
    def __init__(self, shared_key: str, self_hostname: str, users: Mapping[str, str]):
        self.shared_key = shared_key.encode()
        self.self_hostname = self_hostname
        self.users = {name.encode(): password.encode() for name, password in users.items()}
        self.nonce = os.urandom(16)
        self.auth_salt = os.urandom(16) if users else b""

    def helo(self) -> bytes:
        return bytes(msgpack.packb(["HELO", {"nonce": self.nonce, "auth": self.auth_salt, "keepalive": True}]))

    def answer(self, ping: Any) -> tuple[bytes, str | None]:
        """Our PONG to `ping`, and why the client is refused (None: it is in)."""
        refusal = self._refusal(ping)
        salt = _bytes(ping[2]) if _is_ping(ping) else b""
        digest = _sha512(salt, self.self_hostname.encode(), self.nonce, self.shared_key) if refusal is None else ""
        pong = ["PONG", refusal is None, refusal or "", self.self_hostname, digest]
        return bytes(msgpack.packb(pong)), refusal

    def _refusal(self, ping: Any) -> str | None:
        if not _is_ping(ping):
            return "not a PING message"
        hostname, salt, digest = _bytes(ping[1]), _bytes(ping[2]), _bytes(ping[3])
        if not hmac.compare_digest(digest, _sha512(salt, hostname, self.nonce, self.shared_key).encode()):
            return "shared key mismatch"
        if not self.users:
            return None
        if len(ping) != 6:
            return "username and password required"
        username, proof = _bytes(ping[4]), _bytes(ping[5])
        password = self.users.get(username)
        expected = _sha512(self.auth_salt, username, password or b"")
        if password is None or not hmac.compare_digest(proof, expected.encode()):
            return "username/password mismatch"
        return None


def _is_ping(ping: Any) -> bool:
    return (isinstance(ping, list) and len(ping) in (4, 6) and ping[0] == "PING"
            and all(isinstance(part, str | bytes) for part in ping[1:]))


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def _sha512(*parts: bytes) -> str:
    digest = hashlib.sha512()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()

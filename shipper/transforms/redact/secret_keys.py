"""Key-aware redaction: a value whose key names a secret is replaced whole, whatever it holds.

A key names a secret when one of the names is part of it, compared case-insensitively with `-`, `.`
and blanks read as `_`: `password` takes `db_password` and `DB-Password`, `api_key` takes `X-Api-Key`.
Pods choose their keys, so the answers are remembered for at most MAX_REMEMBERED keys (then forgotten
together) and a key longer than MAX_KEY_LENGTH is judged without being remembered.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_NAMES = ("password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "authorization",
                 "credential", "private_key", "client_secret", "access_key", "session_token", "cookie")
MAX_REMEMBERED = 4096
MAX_KEY_LENGTH = 256
_AS_UNDERSCORE = str.maketrans({"-": "_", ".": "_", " ": "_"})


def normalised(key: str) -> str:
    return key.casefold().translate(_AS_UNDERSCORE)


class SecretKeys:
    def __init__(self, names: Iterable[str]):
        self.names = tuple(dict.fromkeys(normalised(name) for name in names if name))
        self._known: dict[str, bool] = {}

    def holds(self, key: str) -> bool:
        """Whether `key` names a secret."""
        found = self._known.get(key)
        if found is None:
            found = self._judge(key)
            if len(key) <= MAX_KEY_LENGTH:
                if len(self._known) >= MAX_REMEMBERED:
                    self._known.clear()
                self._known[key] = found
        return found

    def _judge(self, key: str) -> bool:
        text = normalised(key)
        return any(name in text for name in self.names)

"""What the simulated node wrote: every line carries a unique id, and the ledger keeps what each must
arrive as, so the verdict can count lost, duplicated and altered lines exactly."""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field

ID = re.compile(r"id=([A-Za-z0-9_.-]+:\d+)")

NORMAL = "normal"  # must arrive, byte for byte
TOO_OLD = "too_old"  # CloudWatch must refuse it (older than 14 days); syslog must deliver it
TOO_NEW = "too_new"  # CloudWatch must refuse it (more than 2 hours ahead); syslog must deliver it
REPAIRED = "repaired"  # garbage or invalid UTF-8: must arrive by its id; the bytes after it were repaired


def line_id(origin: str, seq: int) -> str:
    return f"{origin}:{seq:07d}"


@dataclass
class Ledger:
    messages: dict[str, str] = field(default_factory=dict)  # id -> the message it must arrive as
    kinds: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, identifier: str, message: str, kind: str = NORMAL) -> None:
        with self._lock:
            assert identifier not in self.messages, f"id {identifier} written twice"
            self.messages[identifier] = message
            self.kinds[identifier] = kind

    def ids(self, *kinds: str) -> set[str]:
        with self._lock:
            return {i for i, k in self.kinds.items() if not kinds or k in kinds}

    def __len__(self) -> int:
        return len(self.messages)

    def by_kind(self) -> Counter:
        with self._lock:
            return Counter(self.kinds.values())


def id_in(message: str) -> str | None:
    """The id a delivered message carries (the first one: split pieces of a long line carry none)."""
    found = ID.search(message[:200])
    return found.group(1) if found else None

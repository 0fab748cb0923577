"""`throttle`: a budget per key and window (windows follow each other from a key's first record).

When a key's window ends with records dropped, a summary record goes out: with the key's next record,
or with the next block through this transform once the window is over, whichever comes first. It
carries the common fields (the pod, the file) of the last record dropped under that key. Budgets live
in memory: a restart starts every key with a fresh window.

Memory is bounded by `max_keys` budgets of at most MAX_KEY_LENGTH characters of key each: a key a pod
made longer is kept as its beginning and a hash of the whole (two long keys share a budget only if
their hashes collide).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipper.record import Block, Record, lookup
from shipper.templates import MissingField, Template
from shipper.transforms.base import Outputs, Transform
from shipper.transforms.throttle.config import ThrottleOptions

OVERFLOW = "_overflow"
MAX_KEY_LENGTH = 256
_KEPT = 200  # characters of a longer key kept readable before its hash


@dataclass(slots=True)
class Budget:
    started: float
    passed: int = 0
    dropped: int = 0
    common: Mapping[str, Any] = field(default_factory=dict)  # of the last record dropped


class Throttle(Transform):
    def __init__(self, transform_id: str, options: ThrottleOptions, clock: Any = time.monotonic):
        super().__init__(transform_id, options)
        self.limit = options.limit
        self.window = options.window
        self.key = Template(options.key) if options.key else None
        self.max_keys = options.max_keys
        self.clock = clock
        self.budgets: dict[str, Budget] = {}
        self._next_sweep = 0.0

    def process(self, blocks: Sequence[Block]) -> Outputs:
        now = self.clock()
        out = self._summaries(now) if now >= self._next_sweep else []
        for block in blocks:
            kept = [record for record in block.records if self._admit(block.common, record, now, out)]
            self.discard("throttled", len(block.records) - len(kept))
            if kept:
                out.append(Block(self.id, block.common, kept))
        return {self.id: out}

    def _admit(self, common: Mapping[str, Any], record: Record, now: float, out: list[Block]) -> bool:
        key = self._key(common, record)
        budget = self.budgets.get(key)
        if budget is None and len(self.budgets) >= self.max_keys:
            out += self._summaries(now)
            if len(self.budgets) >= self.max_keys:
                key = OVERFLOW
                budget = self.budgets.get(key)
        if budget is None:
            budget = self.budgets[key] = Budget(now)
        elif now - budget.started >= self.window:
            out += self._summary(key, budget)
            budget.started, budget.passed, budget.dropped = now, 0, 0
        if budget.passed < self.limit:
            budget.passed += 1
            return True
        budget.dropped += 1
        budget.common = common
        return False

    def _key(self, common: Mapping[str, Any], record: Record) -> str:
        if self.key is None:
            return ""
        try:
            key = self.key.render(lambda path: lookup(common, record, path))
        except MissingField:
            return ""
        return key if len(key) <= MAX_KEY_LENGTH else bounded(key)

    def _summaries(self, now: float) -> list[Block]:
        """Summaries of every window that is over; budgets of those windows are forgotten."""
        self._next_sweep = now + self.window
        over = [key for key, budget in self.budgets.items() if now - budget.started >= self.window]
        return [summary for key in over for summary in self._summary(key, self.budgets.pop(key))]

    def _summary(self, key: str, budget: Budget) -> list[Block]:
        if not budget.dropped:
            return []
        text = (f"throttle {self.id}: dropped {budget.dropped} records of key {key!r} "
                f"(limit {self.limit} per {self.window:g}s)")
        fields = {"throttle": {"key": key, "dropped": budget.dropped, "limit": self.limit,
                               "window_seconds": self.window}}
        return [Block(self.id, budget.common, [(time.time_ns(), text, fields)])]


def bounded(key: str) -> str:
    """A long key as its beginning and a hash of the whole, at most MAX_KEY_LENGTH characters."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{key[:_KEPT]}...#{digest}"

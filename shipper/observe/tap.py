"""Records as they leave a source, a transform or a route's output, live, for `shipper tap`.

Nothing is copied while nobody watches: a block's stream is looked up in a dict and that is all. A
watcher holds at most WATCHER_BYTES of records (their JSON) waiting to be written to its client;
what does not fit is dropped and counted, and the watcher says so in its output: tapping never
slows or stops delivery, and never holds memory a slow client could grow. What a tap shows before a
`redact` transform is what the pod wrote, secrets included: the API serves taps only when `api.tap`
is on, and only on loopback unless `api.token` is set.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson

from shipper.record import Block, as_event

WATCHER_BYTES = 4 * 1024 * 1024


class Watcher:
    def __init__(self, stream: str, most_bytes: int = WATCHER_BYTES):
        self.stream = stream
        self.most_bytes = most_bytes
        self.lines: deque[bytes] = deque()
        self.held = 0
        self.dropped = 0
        self.arrived = asyncio.Event()

    def offer(self, common: Mapping[str, Any], records: list[Any]) -> None:
        for record in records:
            try:
                line = orjson.dumps(as_event(common, record), default=str, option=orjson.OPT_NON_STR_KEYS)
            except (TypeError, orjson.JSONEncodeError):
                line = orjson.dumps({"message": repr(record)})
            if self.held + len(line) > self.most_bytes:
                self.dropped += 1
                continue
            self.lines.append(line)
            self.held += len(line)
        self.arrived.set()

    def take(self) -> list[bytes]:
        """What waits, and a note of what was dropped since the last take."""
        taken = list(self.lines)
        self.lines.clear()
        self.held = 0
        self.arrived.clear()
        if self.dropped:
            taken.append(orjson.dumps({"tap": f"dropped {self.dropped} record(s): the client read too slowly"}))
            self.dropped = 0
        return taken


class Tap:
    def __init__(self) -> None:
        self._watchers: dict[str, set[Watcher]] = {}

    def watch(self, stream: str) -> Watcher:
        watcher = Watcher(stream)
        self._watchers.setdefault(stream, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        watchers = self._watchers.get(watcher.stream, set())
        watchers.discard(watcher)
        if not watchers:
            self._watchers.pop(watcher.stream, None)

    def publish(self, block: Block) -> None:
        for watcher in self._watchers.get(block.stream, ()):
            watcher.offer(block.common, block.records)


TAP = Tap()

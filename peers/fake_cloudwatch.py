"""A CloudWatch Logs endpoint that enforces every PutLogEvents rule LocalStack does not.

Speaks the JSON 1.1 protocol for CreateLogGroup, CreateLogStream, PutRetentionPolicy,
DescribeLogGroups, PutLogEvents and GetLogEvents. PutLogEvents is refused with
InvalidParameterException when a batch breaks a limit (1,048,576 bytes counting 26 per event,
10,000 events, chronological order, 24 hours, event size, empty message) or carries a sequence
token; events over 14 days old or 2 hours ahead are rejected one by one in rejectedLogEventsInfo,
as AWS does; an `entity` that breaks the documented rules is answered with rejectedEntityInfo (the
events are stored). It is fast enough for throughput benchmarks (LocalStack is not), and keeps only
counts when started with `store=False`.

    python -m peers.fake_cloudwatch --port 4599 [--count-only]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter, defaultdict

import orjson
from aiohttp import web

from peers.server import ThreadedServer

MAX_BATCH_BYTES = 1_048_576
MAX_EVENTS = 10_000
SPAN_MS = 24 * 3600 * 1000
TOO_OLD_MS = 14 * 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000


class FakeCloudWatch(ThreadedServer):
    def __init__(self, store: bool = True, max_event_size: int = 1_048_576, latencies: bool = False,
                 kms_keys: frozenset[str] = frozenset(), denied: frozenset[str] = frozenset(), put_delay: float = 0.0):
        """`kms_keys`: the key ARNs that exist and are enabled; CreateLogGroup refuses any other.
        `denied`: operations answered with AccessDeniedException (a role without them). `put_delay`:
        seconds each PutLogEvents takes (requests overlap; `most_in_flight` records it per stream)."""
        super().__init__()
        self.put_delay = put_delay
        self.in_flight: Counter = Counter()
        self.most_in_flight: Counter = Counter()  # (group, stream) -> most PutLogEvents at once
        self.kms_keys = kms_keys
        self.denied = denied
        self.store = store
        # seconds from each accepted event's timestamp to its acceptance, when asked (latency benchmark)
        self.latencies: list[float] | None = [] if latencies else None
        self.max_event_size = max_event_size
        self.groups: dict[str, dict] = {}
        self.streams: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        self.accepted = 0
        self.violations: Counter = Counter()  # rule -> batches refused for it
        self.calls: Counter = Counter()
        self.requests: list[dict] = []  # (group, stream, entity, messages) of each accepted PutLogEvents

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").split(".")[-1]
        self.calls[operation] += 1
        params = orjson.loads(await request.read())
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            return _error(400, "UnknownOperationException", operation)
        if operation in self.denied:
            return _error(400, "AccessDeniedException", f"not authorized to perform: logs:{operation}")
        if operation == "PutLogEvents" and self.put_delay:
            stream = (params.get("logGroupName"), params.get("logStreamName"))
            self.in_flight[stream] += 1
            self.most_in_flight[stream] = max(self.most_in_flight[stream], self.in_flight[stream])
            try:
                await asyncio.sleep(self.put_delay)
            finally:
                self.in_flight[stream] -= 1
        try:
            return web.Response(body=orjson.dumps(handler(params)), content_type="application/x-amz-json-1.1")
        except _ApiError as error:
            return _error(400, error.code, error.message)

    def _CreateLogGroup(self, params: dict) -> dict:
        group = params["logGroupName"]
        if group in self.groups:
            raise _ApiError("ResourceAlreadyExistsException", "The specified log group already exists")
        if params.get("logGroupClass", "STANDARD") not in ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY"):
            raise _ApiError("InvalidParameterException", f"logGroupClass {params['logGroupClass']!r}")
        if "kmsKeyId" in params and params["kmsKeyId"] not in self.kms_keys:
            raise _ApiError("InvalidParameterException", "The specified KMS key does not exist or is disabled")
        self.groups[group] = {"logGroupName": group, "tags": params.get("tags", {}), "streams": set(),
                              "logGroupClass": params.get("logGroupClass", "STANDARD"),
                              "deletionProtectionEnabled": params.get("deletionProtectionEnabled", False),
                              **({"kmsKeyId": params["kmsKeyId"]} if "kmsKeyId" in params else {})}
        return {}

    def _CreateLogStream(self, params: dict) -> dict:
        group = self._group(params)
        stream = params["logStreamName"]
        if stream in group["streams"]:
            raise _ApiError("ResourceAlreadyExistsException", "The specified log stream already exists")
        group["streams"].add(stream)
        return {}

    def _PutRetentionPolicy(self, params: dict) -> dict:
        self._group(params)["retentionInDays"] = params["retentionInDays"]
        return {}

    def _DescribeLogGroups(self, params: dict) -> dict:
        prefix = params.get("logGroupNamePrefix", "")
        return {"logGroups": [{k: v for k, v in g.items() if k != "streams"}
                              for name, g in sorted(self.groups.items()) if name.startswith(prefix)]}

    def _GetLogEvents(self, params: dict) -> dict:
        events = self._stream(params)
        if params.get("nextToken") == "f/end":
            return {"events": [], "nextForwardToken": "f/end", "nextBackwardToken": "b/start"}
        start, end = params.get("startTime", 0), params.get("endTime", 2**63)
        chosen = [{"timestamp": t, "message": m} for t, m in sorted(events, key=lambda e: e[0]) if start <= t < end]
        return {"events": chosen, "nextForwardToken": "f/end", "nextBackwardToken": "b/start"}

    def _PutLogEvents(self, params: dict) -> dict:
        events = self._stream(params)
        batch = params.get("logEvents") or []
        self._check(params, batch)
        now = int(time.time() * 1000)
        rejected: dict[str, int] = {}
        too_new = next((i for i, e in enumerate(batch) if e["timestamp"] > now + TOO_NEW_MS), None)
        too_old = max((i for i, e in enumerate(batch) if e["timestamp"] < now - TOO_OLD_MS), default=None)
        if too_new is not None:
            rejected["tooNewLogEventStartIndex"] = too_new
        if too_old is not None:
            rejected["tooOldLogEventEndIndex"] = too_old
        kept = batch[(too_old + 1 if too_old is not None else 0):too_new]
        self.accepted += len(kept)
        if self.latencies is not None:
            accepted_at = time.time()
            self.latencies.extend(accepted_at - e["timestamp"] / 1000 for e in kept)
        if self.store:
            events.extend((e["timestamp"], e["message"]) for e in kept)
            self.requests.append({"group": params["logGroupName"], "stream": params["logStreamName"],
                                  "entity": params.get("entity"), "messages": [e["message"] for e in kept]})
        answer: dict = {"rejectedLogEventsInfo": rejected} if rejected else {}
        entity_error = _entity_error(params["entity"]) if "entity" in params else None
        if entity_error:
            answer["rejectedEntityInfo"] = {"errorType": entity_error}
        return answer

    def _check(self, params: dict, batch: list[dict]) -> None:
        sizes = [len(e["message"].encode()) for e in batch]
        times = [e["timestamp"] for e in batch]
        for rule, broken in (
            ("sequence_token", "sequenceToken" in params),
            ("no_events", not batch),
            ("too_many_events", len(batch) > MAX_EVENTS),
            ("batch_too_large", sum(sizes) + 26 * len(batch) > MAX_BATCH_BYTES),
            ("event_too_large", any(size + 26 > self.max_event_size for size in sizes)),
            ("empty_message", any(size == 0 for size in sizes)),
            ("not_chronological", times != sorted(times)),
            ("span_over_24h", bool(times) and max(times) - min(times) > SPAN_MS),
        ):
            if broken:
                self.violations[rule] += 1
                raise _ApiError("InvalidParameterException", f"batch refused: {rule}")

    def _group(self, params: dict) -> dict:
        group = self.groups.get(params["logGroupName"])
        if group is None:
            raise _ApiError("ResourceNotFoundException", "The specified log group does not exist.")
        return group

    def _stream(self, params: dict) -> list[tuple[int, str]]:
        if params["logStreamName"] not in self._group(params)["streams"]:
            raise _ApiError("ResourceNotFoundException", "The specified log stream does not exist.")
        return self.streams[(params["logGroupName"], params["logStreamName"])]


class _ApiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


ENTITY_KEYS = {"Type", "ResourceType", "Identifier", "Name", "Environment"}
ENTITY_TYPES = {"Service", "Resource", "AWS::Service", "AWS::Resource"}


def _entity_error(entity: dict) -> str | None:
    """The errorType CloudWatch gives an entity it rejects (API_Entity and the related-telemetry guide)."""
    keys, attributes = entity.get("keyAttributes", {}), entity.get("attributes", {})
    if not 2 <= len(keys) <= 4 or not set(keys) <= ENTITY_KEYS or any(not 1 <= len(k) <= 32 for k in keys):
        return "InvalidKeyAttributes"
    if keys.get("Type") not in ENTITY_TYPES:
        return "InvalidTypeValue"
    if any(not 1 <= len(v) <= 512 for v in keys.values()):
        return "InvalidKeyAttributes"
    if len(attributes) > 10 or any(not 1 <= len(k) <= 256 or not 1 <= len(v) <= 512 for k, v in attributes.items()):
        return "InvalidAttributes"
    return None


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"__type": code, "message": message}),
                        content_type="application/x-amz-json-1.1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4599)
    parser.add_argument("--count-only", action="store_true", help="keep counts, not events")
    args = parser.parse_args()
    server = FakeCloudWatch(store=not args.count_only).start(args.port)
    print(server.url, flush=True)
    try:
        server._thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

"""`shipper tap`: the records a running agent's component lets out, read from its API (/tap/<id>)."""

from __future__ import annotations

import http.client
import sys
from typing import Any

import orjson

from shipper.config.model import AgentConfig


def tap(config: AgentConfig, component: str, limit: int, as_json: bool, out: Any = None) -> int:
    """Print the records of `component` until `limit` (0: until interrupted); 1 when the agent refuses."""
    out = out or sys.stdout
    if config.api is None or not config.api.tap:
        print("tap needs the API with tap on: api: {address: ..., tap: true}", file=sys.stderr)
        return 1
    host, port = config.api.local_endpoint()
    headers = {"Authorization": f"Bearer {config.api.token.get_secret_value()}"} if config.api.token else {}
    connection = http.client.HTTPConnection(host, port, timeout=None)
    try:
        connection.request("GET", f"/tap/{component}?limit={limit}", headers=headers)
        response = connection.getresponse()
    except OSError as error:
        print(f"the agent's API on {config.api.address} does not answer: {error}", file=sys.stderr)
        return 1
    if response.status != 200:
        print(f"tap refused: {response.read().decode(errors='replace').strip()}", file=sys.stderr)
        return 1
    for line in response:
        out.write(line.decode(errors="replace") if as_json else _readable(line))
        out.flush()
    return 0


def _readable(line: bytes) -> str:
    event = orjson.loads(line)
    if "tap" in event:
        return f"-- {event['tap']}\n"
    return f"{event.get('timestamp', '-')}  {event.get('message', '')}\n"

"""`shipper top`: a view of the running agent that redraws itself, per component, from its /metrics:
records in and out per second, discarded and errors per second, a sink's readiness, and the spool.

Rates are the difference of two scrapes `interval` apart; the first screen comes after the first
interval. It reads only what /metrics serves, so it shows any agent whose API it can reach.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TextIO

from prometheus_client.parser import text_string_to_metric_families

from shipper.config.model import AgentConfig

CLEAR = "\033[H\033[2J"
COUNTERS = {"shipper_events_received": "in", "shipper_events_sent": "out", "shipper_events_discarded": "discarded",
            "shipper_errors": "errors"}


@dataclass
class Scrape:
    at: float
    counts: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)  # component -> counter -> sum
    ready: dict[str, float] = field(default_factory=dict)  # sink id -> shipper_sink_ready
    spool: dict[str, float] = field(default_factory=dict)


def scrape(url: str) -> Scrape:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = Scrape(time.monotonic())
    counts: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if family.name in COUNTERS and sample.name.endswith("_total"):
                key = (labels.get("component_kind", ""), labels.get("component_id", ""),
                       labels.get("component_type", ""))
                counts[key][COUNTERS[family.name]] += sample.value
            elif family.name == "shipper_sink_ready":
                found.ready[labels.get("component_id", "")] = sample.value
            elif family.name in ("shipper_spool_events", "shipper_spool_bytes", "shipper_spool_oldest_age_seconds",
                                 "shipper_spool_max_bytes"):
                found.spool[family.name] = sample.value
    found.counts = {key: dict(values) for key, values in counts.items()}
    return found


def render(before: Scrape, after: Scrape) -> str:
    seconds = max(after.at - before.at, 1e-6)
    header = ["kind", "id", "type", "in/s", "out/s", "discarded/s", "errors/s", "ready"]
    rows = []
    order = {"source": 0, "transform": 1, "sink": 2}
    for key in sorted(after.counts, key=lambda k: (order.get(k[0], 3), k[1])):
        now, then = after.counts[key], before.counts.get(key, {})

        def rate(name: str, now: dict[str, float] = now, then: dict[str, float] = then) -> str:
            return f"{max(0.0, now.get(name, 0.0) - then.get(name, 0.0)) / seconds:,.0f}"

        ready = "-" if key[0] != "sink" else ("yes" if after.ready.get(key[1], 1.0) else "NO")
        rows.append([*key, rate("in"), rate("out"), rate("discarded"), rate("errors"), ready])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(cell).rjust(width) if i >= 3 else str(cell).ljust(width)
                       for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in [header, *rows]]
    spool = after.spool
    used = spool.get("shipper_spool_bytes", 0.0)
    most = spool.get("shipper_spool_max_bytes", 0.0)
    share = f" ({used / most:.0%} of {most / 2**20:,.0f} MiB)" if most else ""
    lines += ["", f"spool: {spool.get('shipper_spool_events', 0.0):,.0f} records, {used / 2**20:,.1f} MiB{share}, "
              f"oldest {spool.get('shipper_spool_oldest_age_seconds', 0.0):,.0f}s"]
    return "\n".join(lines)


def top(config: AgentConfig, interval: float, out: TextIO | None = None, screens: int = 0) -> int:
    """Redraw every `interval` seconds until interrupted (or after `screens` screens, when given)."""
    out = out or sys.stdout
    if config.api is None:
        print("top reads the agent's /metrics: configure api: {address: ...}", file=sys.stderr)
        return 1
    url = config.api.local_url("/metrics")
    terminal = out.isatty()
    try:
        before = scrape(url)
        drawn = 0
        while not screens or drawn < screens:
            time.sleep(interval)
            after = scrape(url)
            out.write((CLEAR if terminal else "") + render(before, after) + "\n")
            out.flush()
            before, drawn = after, drawn + 1
    except OSError as error:
        print(f"the agent's API on {config.api.address} does not answer: {error}", file=sys.stderr)
        return 1
    return 0

"""A file of JSON lines (`format: json`) keeps each line's own time when `time_key` names it, so a
backfilled file lands at the times it was written; a line without one keeps the read time, counted."""

from __future__ import annotations

import calendar
import time

import orjson
import pytest

from shipper.components import parse_config
from shipper.config.errors import ConfigError
from shipper.sources.files.config import FileOptions
from shipper.sources.files.source import FileSource
from tests.sources.harness import SourceHarness, until
from tests.transforms.helpers import metric

QUICK = {"discover_interval": "20ms", "poll_interval": "10ms", "read_from": "beginning"}
BACKFILL = calendar.timegm((2026, 3, 1, 8, 30, 0))


async def test_json_lines_take_their_own_time_and_a_line_without_one_keeps_the_read_time(tmp_path):
    log = tmp_path / "backfill.log"
    lines = [{"ts": (BACKFILL + n) * 1000, "msg": f"old {n}"} for n in range(3)] + [{"msg": "no time"}]
    log.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    options = FileOptions.model_validate({"type": "file", "include": [str(log)], "format": "json",
                                          "time_key": "ts", "time_format": "epoch_ms", **QUICK})
    labels = {"component_kind": "source", "component_id": "backfill", "component_type": "file",
              "kind": "time_unparsed"}
    before = metric("shipper_input_anomalies_total", **labels)
    started = time.time_ns()

    async with SourceHarness(tmp_path, FileSource, "backfill", options) as harness:
        await until(lambda: len(harness.messages()) == 4, timeout=10)

    stamps = [record[0] for _, record in harness.records()]
    assert stamps[:3] == [(BACKFILL + n) * 10**9 for n in range(3)]
    assert stamps[3] >= started
    assert metric("shipper_input_anomalies_total", **labels) == before + 1


def test_time_key_belongs_to_json_lines():
    with pytest.raises(ConfigError) as refused:
        parse_config("""
sources: {app: {type: file, include: [/var/log/app.log], time_key: ts}}
sinks: {out: {type: console, inputs: [app]}}
""", "shipper.yaml", {})

    assert "time_key" in str(refused.value) and "format: json" in str(refused.value)

"""Transforms in the running agent: applied before the spool, in the same transaction as the checkpoint,
so kill -9 neither loses a record nor stores one twice, and a redacted secret never touches the disk."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import orjson
import pytest

from shipper import kernels
from tests.agent_process import (
    AgentProcess,
    blocked_pipe,
    output_messages,
    spooled_streams,
    wait_for,
    write_config,
)


class JsonWriter(threading.Thread):
    """Appends numbered JSON lines to one file in chunks that cut lines in the middle."""

    def __init__(self, path: Path, lines: int, seed: int):
        super().__init__(daemon=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lines = [orjson.dumps({"n": i, "parity": "even" if i % 2 == 0 else "odd",
                                    "text": "y" * (i % 70)}).decode() for i in range(lines)]
        self.random = random.Random(seed)

    def run(self) -> None:
        payload = "".join(f"{line}\n" for line in self.lines).encode()
        written = 0
        while written < len(payload):
            step = self.random.randint(1, 30_000)
            with open(self.path, "ab", buffering=0) as handle:
                handle.write(payload[written : written + step])
            written += step
            time.sleep(0.005)


def transform_config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": "3s",
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")],
                            "poll_interval": "20ms", "read_block_size": "64KiB"}},
        "transforms": {
            "json": {"type": "parse", "inputs": ["app"], "format": "json"},
            "split": {"type": "route", "inputs": ["json"], "routes": {"even": {"field": "parity", "equals": "even"}}},
        },
        "sinks": {"out": {"type": "console", "inputs": ["app", "split.even"]}},
    })


def assert_streams_agree(streams: dict[str, list[tuple[str, object]]], lines: list[str]) -> None:
    """The raw stream is a prefix of the file without repeats, and the routed stream holds exactly the
    even lines of that prefix, parsed: both were stored in the same transactions."""
    raw = [message for message, _ in streams.get("app", [])]
    even = streams.get("split.even", [])
    assert raw == lines[: len(raw)]
    assert [message for message, _ in even] == [line for line in raw if '"parity":"even"' in line]
    assert all(fields["parity"] == "even" and isinstance(fields["n"], int) for _, fields in even)
    assert "json" not in streams and "split._unmatched" not in streams  # no sink takes them: never stored


@pytest.mark.slow
def test_kill_9_with_transforms_neither_loses_nor_stores_a_transformed_record_twice(tmp_path):
    rng = random.Random(20261202)
    writer = JsonWriter(tmp_path / "logs" / "app.log", lines=30_000, seed=rng.randint(0, 10**6))
    cfg = transform_config(tmp_path)
    read_end, write_end = blocked_pipe()  # the sink never delivers: what was read stays in the spool
    writer.start()
    kills = 0
    while writer.is_alive() or kills < 10:
        agent = AgentProcess(cfg, stdout=write_end)
        time.sleep(rng.uniform(0.05, 0.5))
        agent.kill()
        kills += 1
        assert_streams_agree(spooled_streams(tmp_path / "data"), writer.lines)
    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: len(spooled_streams(tmp_path / "data").get("app", [])) == len(writer.lines), 60,
             "every line in the spool")
    agent.kill()
    os.close(write_end)
    os.close(read_end)

    streams = spooled_streams(tmp_path / "data")
    assert_streams_agree(streams, writer.lines)
    assert len(streams["split.even"]) == len(writer.lines) // 2


def test_a_secret_is_redacted_before_it_reaches_the_disk(tmp_path):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(f"connecting with aws_secret_access_key={secret}\nplain line\n")
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(log)], "poll_interval": "20ms"}},
        "transforms": {"scrub": {"type": "redact", "inputs": ["app"]}},
        "sinks": {"out": {"type": "console", "inputs": ["scrub"]}},
    })
    read_end, write_end = blocked_pipe()
    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: len(spooled_streams(tmp_path / "data").get("scrub", [])) == 2, 30, "both lines in the spool")

    agent.kill()
    os.close(write_end)
    os.close(read_end)

    stored = b"".join(path.read_bytes() for path in (tmp_path / "data").iterdir() if path.is_file())
    assert b"[REDACTED]" in stored
    assert secret.encode() not in stored
    assert b"wJalrXUtnFEMI" not in stored


def test_a_reload_that_changes_a_transform_applies_to_lines_read_after_it(tmp_path):
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("keep 1\ndrop 1\n")
    out = tmp_path / "out.jsonl"

    def config(dropped: str) -> None:
        write_config(tmp_path / "shipper.yaml", {
            "data_dir": str(tmp_path / "data"),
            "sources": {"app": {"type": "file", "include": [str(log)], "poll_interval": "20ms"}},
            "transforms": {"quiet": {"type": "filter", "inputs": ["app"],
                                     "exclude": {"field": "message", "regex": f"^{dropped}"}}},
            "sinks": {"out": {"type": "console", "inputs": ["quiet"]}},
        })

    config("drop")
    with open(out, "wb") as stdout:
        agent = AgentProcess(tmp_path / "shipper.yaml", stdout=stdout)
        wait_for(lambda: output_messages(out) == ["keep 1"], 30, "the first line")
        config("keep")
        agent.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in agent.log(), 30, "the reload")
        with open(log, "a") as handle:
            handle.write("keep 2\ndrop 2\n")
        wait_for(lambda: len(output_messages(out)) == 2, 30, "the line after the reload")
        assert agent.terminate(timeout=10) == 0

    assert output_messages(out) == ["keep 1", "drop 2"]


def test_parsed_fields_reach_the_spool_alike_whether_a_transform_reads_them_or_only_the_spool(tmp_path):
    """`parse json` feeding only the spool stores its fields as the JSON text it read (compiled, where
    built); feeding another transform it makes mappings. Both store the same records."""
    lines = ['{"n":1,"level":"info","stream":"parsed"}', "not json", '{"n":2,"message":"claims the message"}',
             '{"n":3,"big":1e5,"deep":{"a":[1,{"b":null}]}}', '{"n":4,"text":"caf\\u00e9 "}',
             '{"n":5,"text":"\\ud83d\\ude00"}', "{}"]
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("".join(f"{line}\n" for line in lines))
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(log)], "poll_interval": "20ms"}},
        "transforms": {
            "stored": {"type": "parse", "inputs": ["app"], "format": "json"},
            "read": {"type": "parse", "inputs": ["app"], "format": "json"},
            "every": {"type": "filter", "inputs": ["read"], "exclude": {"field": "message", "regex": "^$"}},
        },
        "sinks": {"out": {"type": "console", "inputs": ["stored", "every"]}},
    })
    read_end, write_end = blocked_pipe()
    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: len(spooled_streams(tmp_path / "data").get("every", [])) == len(lines), 30, "every line stored")
    agent.kill()
    os.close(write_end)
    os.close(read_end)

    streams = spooled_streams(tmp_path / "data")
    assert [orjson.dumps(fields) for _, fields in streams["stored"]] == \
           [orjson.dumps(fields) for _, fields in streams["every"]]
    assert [fields for _, fields in streams["stored"]] == [
        {"n": 1, "level": "info", "stream": "parsed"}, None, {"n": 2, "log": {"message": "claims the message"}},
        {"n": 3, "big": 100000.0, "deep": {"a": [1, {"b": None}]}}, {"n": 4, "text": "caf\u00e9 "},
        {"n": 5, "text": "\U0001f600"}, {}]
    if kernels.parse is not None:  # the kernel's fields are the text as read, escapes and all
        assert b'"caf\\u00e9 ' in stored_field_values(tmp_path / "data", "stored")
        assert b'"caf\\u00e9 ' not in stored_field_values(tmp_path / "data", "every")


def stored_field_values(data_dir: Path, stream: str) -> bytes:
    connection = sqlite3.connect(f"file:{data_dir / 'spool.db'}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT field_values FROM blocks WHERE source = ?", (stream,)).fetchall()
    finally:
        connection.close()
    return b"".join(row[0] or b"" for row in rows)

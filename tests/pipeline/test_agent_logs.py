"""The running agent writes its own log in the configured format."""

from __future__ import annotations

import subprocess

import orjson

from tests.agent_process import AgentProcess, wait_for, write_config


def test_json_logs_are_one_object_a_line_at_the_configured_level(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text("hello\n")
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"), "log": {"format": "json", "level": "debug"},
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")]}},
        "sinks": {"out": {"type": "console", "inputs": ["app"]}},
    })
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: "tailing " in agent.log(), 20, "the agent tailing")
    assert agent.terminate(timeout=10) == 0

    events = [orjson.loads(line) for line in agent.log().splitlines()]
    assert {"ts", "level", "logger", "msg"} <= set(events[0])
    assert any(e["msg"].startswith("tailing ") and e["level"] == "info" for e in events)

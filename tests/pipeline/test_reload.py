"""SIGHUP reloads the configuration: sources and sinks added, changed and removed while records keep
flowing; an invalid file is refused and the running configuration stays."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.agent_process import AgentProcess, output_messages, wait_for, write_config


def config(tmp_path: Path, sources: list[str], **source_options) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {name: {"type": "file", "include": [str(tmp_path / "logs" / f"{name}.log")],
                           "poll_interval": "20ms", **source_options} for name in sources},
        "sinks": {"out": {"type": "console", "inputs": sources}},
    })


def append(tmp_path: Path, name: str, lines: list[str]) -> None:
    with open(tmp_path / "logs" / f"{name}.log", "a") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def reload(agent: AgentProcess, what: str) -> None:
    before = agent.log().count(what)
    agent.signal(signal.SIGHUP)
    wait_for(lambda: agent.log().count(what) > before, 20, what)


def test_sighup_adds_changes_and_removes_sources_and_refuses_a_broken_config(tmp_path):
    (tmp_path / "logs").mkdir()
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(config(tmp_path, ["a"]), stdout=stdout)
        agent.wait_until_running()
        append(tmp_path, "a", ["a1", "a2"])
        wait_for(lambda: output_messages(out) == ["a1", "a2"], 20, "a's first lines")

        config(tmp_path, ["a", "b"])
        reload(agent, "configuration reloaded")
        append(tmp_path, "b", ["b1"])
        append(tmp_path, "a", ["a3"])
        wait_for(lambda: sorted(output_messages(out)) == ["a1", "a2", "a3", "b1"], 20, "b added, a kept")

        (tmp_path / "shipper.yaml").write_text("sources: {a: {type: file}}\nsinks: {}\n")
        reload(agent, "the new configuration is refused")
        append(tmp_path, "a", ["a4"])
        wait_for(lambda: "a4" in output_messages(out), 20, "the old configuration still running")

        config(tmp_path, ["b"], format="json")  # a removed, b changed (json), out's inputs changed
        reload(agent, "configuration reloaded")
        append(tmp_path, "a", ["a5 (a is no longer read)"])
        append(tmp_path, "b", ['{"msg": "b2"}'])
        wait_for(lambda: '{"msg": "b2"}' in output_messages(out), 20, "b read as json after the change")
        assert agent.terminate(timeout=10) == 0

    assert sorted(output_messages(out)) == sorted(["a1", "a2", "a3", "a4", "b1", '{"msg": "b2"}'])
    assert "a5 (a is no longer read)" not in output_messages(out)

"""SIGHUP reloads the configuration: sources and sinks added, changed and removed while records keep
flowing; an invalid file is refused and the running configuration stays."""

from __future__ import annotations

import signal
import sys
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


class ConfigMapVolume:
    """A directory laid out as the kubelet lays a ConfigMap volume out: `shipper.yaml` -> `..data/shipper.yaml`,
    `..data` -> a timestamped directory; an update writes a new directory and swaps `..data` atomically."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.versions = 0
        directory.mkdir()
        (directory / "shipper.yaml").symlink_to("..data/shipper.yaml")

    def publish(self, text: str) -> None:
        self.versions += 1
        version = self.directory / f"..2026_12_06_{self.versions:02d}"
        version.mkdir()
        (version / "shipper.yaml").write_text(text)
        swap = self.directory / "..data_tmp"
        swap.symlink_to(version.name)
        swap.rename(self.directory / "..data")

    @property
    def path(self) -> Path:
        return self.directory / "shipper.yaml"


def test_with_watch_config_a_configmap_swap_reloads_and_an_invalid_one_is_refused(tmp_path):
    (tmp_path / "logs").mkdir()
    volume = ConfigMapVolume(tmp_path / "config")
    volume.publish(config(tmp_path, ["a"]).read_text())
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(volume.path, stdout=stdout, command=[
            sys.executable, "-m", "shipper", "run", "--config", str(volume.path), "--watch-config"])
        agent.wait_until_running()
        append(tmp_path, "a", ["a1"])
        wait_for(lambda: output_messages(out) == ["a1"], 20, "a's first line")

        volume.publish(config(tmp_path, ["a", "b"]).read_text())
        wait_for(lambda: "configuration reloaded" in agent.log(), 20, "the swap noticed")
        append(tmp_path, "b", ["b1"])
        wait_for(lambda: sorted(output_messages(out)) == ["a1", "b1"], 20, "b added")

        volume.publish("sources: {a: {type: file}}\nsinks: {}\n")
        wait_for(lambda: "the new configuration is refused" in agent.log(), 20, "the broken swap refused")
        append(tmp_path, "a", ["a2"])
        wait_for(lambda: "a2" in output_messages(out), 20, "the running configuration still running")
        assert agent.terminate(timeout=10) == 0

    assert agent.log().count("configuration reloaded") == 1


def test_watch_config_in_the_file_reloads_an_edit_in_place(tmp_path):
    (tmp_path / "logs").mkdir()
    path = config(tmp_path, ["a"])
    path.write_text(path.read_text() + "watch_config: true\n")
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(path, stdout=stdout)
        agent.wait_until_running()
        config(tmp_path, ["a", "b"])
        wait_for(lambda: "configuration reloaded" in agent.log(), 20, "the edit noticed")
        append(tmp_path, "b", ["b1"])
        wait_for(lambda: output_messages(out) == ["b1"], 20, "b added")
        assert agent.terminate(timeout=10) == 0

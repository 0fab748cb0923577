"""`shipper tap`: records leaving a source, a transform or a route output of a running agent, live,
without affecting delivery; only with `api.tap`, only on loopback unless a token is set."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shipper.components import parse_config
from shipper.config.errors import ConfigError
from tests.agent_process import (
    AgentProcess,
    http_get,
    output_messages,
    scraped,
    terminal,
    wait_for,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, **api) -> Path:
    path = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "poll_interval": "20ms"}},
        "transforms": {"scrub": {"type": "redact", "inputs": ["app"]}},
        "sinks": {"out": {"type": "console", "inputs": ["scrub"]}},
    })
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = path.read_text() + f"api: {json.dumps({'address': f'127.0.0.1:{port}', 'tap': True, **api})}\n"
    path.write_text(text)
    return path


def api_of(cfg: Path) -> str:
    return "http://" + json.loads(cfg.read_text().split("api: ", 1)[1])["address"]


def running_agent(tmp_path: Path, **api: str) -> tuple[Path, AgentProcess]:
    (tmp_path / "logs").mkdir()
    cfg = config(tmp_path, **api)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    agent.wait_until_running()
    return cfg, agent


def append(tmp_path: Path, lines: list[str]) -> None:
    with open(tmp_path / "logs" / "app.log", "a") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def shipper_tap(cfg: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shipper", "tap", "--config", str(cfg), *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_tap_shows_a_source_before_redact_and_the_redact_transform_after_while_delivery_goes_on(tmp_path):
    (tmp_path / "logs").mkdir()
    cfg = config(tmp_path)
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        raw = shipper_tap(cfg, "app", "--limit", "3", "--json")
        scrubbed = shipper_tap(cfg, "scrub", "--limit", "3")
        wait_for(lambda: scraped(api_of(cfg), "shipper_api_taps") == 2, 20, "both taps open")
        append(tmp_path, ["one", "password=hunter22 two", "three"])
        raw_out, raw_err = raw.communicate(timeout=20)
        scrubbed_out, _ = scrubbed.communicate(timeout=20)
        wait_for(lambda: len(output_messages(out)) == 3, 20, "every line delivered as well")
        assert agent.terminate(timeout=10) == 0

    assert raw.returncode == 0, raw_err
    assert [json.loads(line)["message"] for line in raw_out.splitlines()] == ["one", "password=hunter22 two",
                                                                                "three"]
    assert [line.split("  ", 1)[1] for line in scrubbed_out.splitlines()] == ["one", "password=[REDACTED] two",
                                                                              "three"]
    assert output_messages(out) == ["one", "password=[REDACTED] two", "three"]


def test_tap_refuses_an_unknown_component_and_a_missing_token_and_is_off_by_default(tmp_path):
    cfg, agent = running_agent(tmp_path, token="t0ken")
    api = api_of(cfg)

    unknown = shipper_tap(cfg, "nope")
    _, unknown_err = unknown.communicate(timeout=20)
    without_token = http_get(f"{api}/tap/app")
    agent.kill()

    assert unknown.returncode == 1 and "no source, transform or route output 'nope' (known: app, scrub)" in unknown_err
    assert without_token[0] == 401


def test_tap_beyond_loopback_needs_a_token():
    base = "sources: {a: {type: file, include: [/x/*.log]}}\nsinks: {o: {type: console, inputs: [a]}}\n"

    with pytest.raises(ConfigError) as refused:
        parse_config(base + "api: {address: '0.0.0.0:8686', tap: true}\n", "x.yaml", {})
    assert "tap on 0.0.0.0:8686 would show records" in refused.value.render()
    assert parse_config(base + "api: {address: '0.0.0.0:8686', tap: true, token: t}\n", "x.yaml", {}).api.tap


def test_tap_in_a_terminal_prints_records_as_they_come_until_ctrl_c(tmp_path):
    cfg, agent = running_agent(tmp_path)
    command = f"cd {ROOT} && {sys.executable} -m shipper tap --config {cfg} scrub; echo tap-ended-$?; sleep 30"
    try:
        with terminal(command) as screen:
            wait_for(lambda: scraped(api_of(cfg), "shipper_api_taps") == 1, 20, "the tap open")
            append(tmp_path, ["live line 1"])
            wait_for(lambda: "live line 1" in screen(), 20, "the line shown live")
            append(tmp_path, ["live line 2"])
            wait_for(lambda: "live line 2" in screen(), 20, "the next line shown live")
            screen.keys("C-c")
            wait_for(lambda: "tap-ended-0" in screen(), 10, "Ctrl-C ends the tap with 0")
    finally:
        agent.kill()


def test_top_redraws_each_components_rates_in_a_terminal_from_the_agents_metrics(tmp_path):
    cfg, agent = running_agent(tmp_path)
    command = f"cd {ROOT} && {sys.executable} -m shipper top --config {cfg} --interval 0.5; echo top-ended-$?; sleep 30"
    try:
        with terminal(command) as screen:
            wait_for(lambda: "in/s" in screen(), 20, "top drawn")
            append(tmp_path, [f"line {i}" for i in range(5_000)])
            wait_for(lambda: any(row.split()[:2] == ["sink", "out"] and row.split()[4] not in ("0", "out/s")
                                 for row in screen().splitlines()), 20, "the sink's rate drawn")
            drawn = screen()
            screen.keys("C-c")
            wait_for(lambda: "top-ended-0" in screen(), 10, "Ctrl-C ends top with 0")
    finally:
        agent.kill()

    rows = {tuple(line.split()[:2]): line.split() for line in drawn.splitlines() if line.split()}
    assert {("source", "app"), ("transform", "scrub"), ("sink", "out")} <= rows.keys()
    assert rows[("sink", "out")][-1] == "yes" and drawn.count("in/s") == 1  # redrawn in place
    assert "spool:" in drawn

"""Start-up and reload never crash on the environment: one agent per data dir, every missing file,
region or port named by its key in `check`, one line and exit 75 from `run`, and a reload whose new
components cannot start keeps the running ones."""

from __future__ import annotations

import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from shipper.cli import main
from tests.agent_process import AgentProcess, output_messages, wait_for, write_config

EXIT_ENVIRONMENT = 75


def file_to_console(tmp_path: Path, **top) -> dict:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return {"data_dir": str(tmp_path / "data"),
            "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")],
                                "poll_interval": "20ms"}},
            "sinks": {"out": {"type": "console", "inputs": ["app"]}}, **top}


def syslog_sink(ca_file: str) -> dict:
    return {"type": "syslog", "inputs": ["app"], "address": "127.0.0.1:6514", "tls": {"ca_file": ca_file}}


def run_to_exit(tmp_path: Path, config: dict) -> tuple[int, str]:
    agent = AgentProcess(write_config(tmp_path / "shipper.yaml", config), stdout=subprocess.DEVNULL)
    return agent.wait(timeout=30), agent.log()


def test_a_second_agent_on_the_same_data_dir_exits_75_naming_the_first_ones_pid(tmp_path):
    config = write_config(tmp_path / "shipper.yaml", file_to_console(tmp_path))
    first = AgentProcess(config, stdout=subprocess.DEVNULL)
    first.wait_until_running()

    second = AgentProcess(config, stdout=subprocess.DEVNULL)

    assert second.wait(timeout=30) == EXIT_ENVIRONMENT
    assert f"pid {first.process.pid}" in second.log()
    assert "Traceback" not in second.log()
    assert first.process.poll() is None
    assert first.terminate(timeout=10) == 0


def test_the_lock_dies_with_its_holder_so_a_killed_agent_is_replaced_at_once(tmp_path):
    config = write_config(tmp_path / "shipper.yaml", file_to_console(tmp_path))
    first = AgentProcess(config, stdout=subprocess.DEVNULL)
    first.wait_until_running()
    first.kill()

    second = AgentProcess(config, stdout=subprocess.DEVNULL)

    second.wait_until_running()
    assert second.terminate(timeout=10) == 0


def test_run_with_a_missing_ca_file_exits_75_with_one_line_naming_the_key(tmp_path):
    config = file_to_console(tmp_path)
    config["sinks"]["out"] = syslog_sink(str(tmp_path / "missing-ca.pem"))

    code, log = run_to_exit(tmp_path, config)

    assert code == EXIT_ENVIRONMENT
    assert "sinks.out.tls.ca_file" in log and "missing-ca.pem" in log
    assert "Traceback" not in log


def test_run_without_a_region_exits_75_naming_the_key(tmp_path, monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    config = file_to_console(tmp_path)
    config["sinks"]["out"] = {"type": "cloudwatch_logs", "inputs": ["app"], "group_name": "g", "stream_name": "s"}

    code, log = run_to_exit(tmp_path, config)

    assert code == EXIT_ENVIRONMENT
    assert "sinks.out.region" in log
    assert "Traceback" not in log


def test_run_with_the_api_port_taken_exits_75_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"

        code, log = run_to_exit(tmp_path, file_to_console(tmp_path, api={"address": address}))

    assert code == EXIT_ENVIRONMENT
    assert f"api.address {address}" in log
    assert "Traceback" not in log


def test_check_names_every_missing_file_region_port_and_unwritable_data_dir(tmp_path, capsys, monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    (tmp_path / "a-file").write_text("not a directory")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = file_to_console(tmp_path, api={"address": f"127.0.0.1:{taken.getsockname()[1]}"})
        config["data_dir"] = str(tmp_path / "a-file" / "data")
        config["sinks"] = {
            "papertrail": syslog_sink(str(tmp_path / "missing-ca.pem")),
            "cloudwatch": {"type": "cloudwatch_logs", "inputs": ["app"], "group_name": "g", "stream_name": "s"},
        }
        path = write_config(tmp_path / "shipper.yaml", config)

        code = main(["check", "--config", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    for key in ("data_dir", "api.address", "sinks.papertrail.tls.ca_file", "sinks.cloudwatch.region"):
        assert f"  {key}: " in err, err


def test_check_accepts_what_run_can_start(tmp_path, capsys):
    path = write_config(tmp_path / "shipper.yaml", file_to_console(tmp_path))

    assert main(["check", "--config", str(path)]) == 0


@pytest.mark.parametrize("broken", ["missing ca_file", "unreadable certificate"])
def test_a_reload_whose_new_sink_cannot_start_keeps_the_running_agent_and_its_sinks(tmp_path, broken):
    config = file_to_console(tmp_path)
    path = write_config(tmp_path / "shipper.yaml", config)
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(path, stdout=stdout)
    agent.wait_until_running()
    bad_ca = tmp_path / "bad-ca.pem"
    if broken == "unreadable certificate":
        bad_ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    config["sinks"]["papertrail"] = syslog_sink(str(bad_ca))
    write_config(path, config)

    agent.signal(signal.SIGHUP)
    wait_for(lambda: "refused" in agent.log(), 20, "the reload refused")
    (tmp_path / "logs" / "app.log").write_text("still shipped\n")

    wait_for(lambda: output_messages(out) == ["still shipped"], 20, "the running sink still delivering")
    assert agent.process.poll() is None
    assert "sinks.papertrail.tls" in agent.log()
    assert "Traceback" not in agent.log()
    assert agent.terminate(timeout=10) == 0


def test_a_looser_data_dir_and_spool_are_made_private_at_start_and_the_change_is_logged(tmp_path):
    config = write_config(tmp_path / "shipper.yaml", file_to_console(tmp_path))
    first = AgentProcess(config, stdout=subprocess.DEVNULL)
    first.wait_until_running()
    assert first.terminate(timeout=10) == 0
    data = tmp_path / "data"
    data.chmod(0o755)  # as kubelet makes a hostPath, and as earlier versions left the spool
    (data / "spool.db").chmod(0o644)

    agent = AgentProcess(config, stdout=subprocess.DEVNULL)
    agent.wait_until_running()

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.iterdir()} == \
        {name: 0o600 for name in ("spool.db", "spool.db-wal", "spool.db-shm", "lock")}
    assert "made the data dir private" in agent.log() and "0644 -> 0600" in agent.log()
    assert agent.terminate(timeout=10) == 0

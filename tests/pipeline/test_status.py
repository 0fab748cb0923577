"""`shipper status` on a live agent: per-file offset, size and lag; per-sink backlog and last error;
plain text when piped, colours and aligned columns in a terminal (tmux)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from peers.pki import CertificateAuthority
from peers.rsyslog import Rsyslog, free_port
from shipper.buffer.spool import Spool
from tests.agent_process import (
    AgentProcess,
    blocked_pipe,
    committed_offsets,
    http_get,
    terminal,
    wait_for,
    with_api,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, sink: dict) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")], "poll_interval": "20ms"}},
        "sinks": {"out": {"inputs": ["app"], **sink}},
    })


def shipper_status(cfg: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "shipper", "status", "--config", str(cfg)], capture_output=True,
                            text=True, check=True, cwd=ROOT)
    return result.stdout


def write_lines(tmp_path: Path, count: int) -> Path:
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "app.log"
    log.write_text("".join(f"line {i:05d}\n" for i in range(count)))  # 11 bytes a line
    return log


def agent_that_read(tmp_path: Path, count: int) -> tuple[Path, Path, AgentProcess]:
    """(the log, the config, the agent) once an agent whose console sink never delivers has read
    `count` lines of the log: every record waits in its spool."""
    log = write_lines(tmp_path, count)
    cfg = config(tmp_path, {"type": "console"})
    _, write_end = blocked_pipe()
    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: committed_offsets(tmp_path / "data").get(str(log)) == count * 11, 20, "the file read")
    return log, cfg, agent


def test_status_shows_offsets_lag_and_backlog_of_a_live_agent_as_plain_text_when_piped(tmp_path):
    log, cfg, agent = agent_that_read(tmp_path, 1000)

    out = shipper_status(cfg)
    agent.kill()

    assert "\033[" not in out
    sources, sinks = out.split("\n\n")
    assert sources.splitlines()[2].split() == ["app", "file", str(log), "10.7", "KiB", "10.7", "KiB", "0", "B"]
    assert sinks.splitlines()[2].split()[:3] == ["out", "console", "1000"]  # records waiting for the sink


def test_status_shows_a_sinks_last_error_from_the_running_agent(tmp_path):
    write_lines(tmp_path, 10)
    ca, other = CertificateAuthority(tmp_path / "pki"), CertificateAuthority(tmp_path / "other", name="other CA")
    server = Rsyslog(tmp_path / "rsyslog", other, other.issue("server")).start()
    cfg = config(tmp_path, {"type": "syslog", "address": f"localhost:{server.port}",
                            "tls": {"ca_file": str(ca.ca_file)}})
    with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: "not ready" in agent.log(), 20, "the certificate refused")

    out = shipper_status(cfg)
    agent.kill()
    server.stop()

    assert "failed verification" in out.split("\n\n")[1]


def test_a_sink_that_cannot_reach_its_backend_turns_unready_with_the_reason_and_status_shows_its_errors(tmp_path):
    write_lines(tmp_path, 10)
    closed_port = free_port()  # nothing listens there
    cfg = config(tmp_path, {"type": "http", "uri": f"http://127.0.0.1:{closed_port}/logs", "batch_timeout": "50ms"})
    api = with_api(cfg, unready_after="2s")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: http_get(f"{api}/readyz")[0] == 503, 30, "not ready")
    readyz = json.loads(http_get(f"{api}/readyz")[1])
    health = http_get(f"{api}/healthz")[0]
    out = shipper_status(cfg)
    agent.kill()

    assert readyz["problems"]["out"]["reason"] == "unreachable"
    assert "nothing delivered for" in readyz["problems"]["out"]["message"]
    assert readyz["errors"]["out"]["count"] >= 1 and readyz["errors"]["out"]["kind"] == "unreachable"
    assert health == 200  # liveness does not follow: a backend's outage must not restart the pod
    sinks = out.split("\n\n")[1]
    assert "NOT READY unreachable: connection from http://127.0.0.1" in sinks


def test_in_a_terminal_status_is_coloured_and_its_columns_line_up(tmp_path):
    _, cfg, agent = agent_that_read(tmp_path, 100)
    try:
        with terminal(f"cd {ROOT} && {sys.executable} -m shipper status --config {cfg}; sleep 30", 200) as screen:
            wait_for(lambda: "last error" in screen(), 10, "status drawn in tmux")
            coloured, plain = screen(escapes=True), screen()
    finally:
        agent.kill()

    assert "\033[32m0 B" in coloured  # the lag, in green: nothing lagging
    lines = plain.splitlines()
    header = next(line for line in lines if line.startswith("source "))
    row = next(line for line in lines if line.startswith("app "))
    for column in ("type", "file", "offset", "size", "lag"):
        start = header.index(column)
        assert row[start] != " " and row[start - 1] == " ", f"column {column} is not aligned"


def test_status_json_gives_the_same_tables_as_objects(tmp_path):
    log, cfg, agent = agent_that_read(tmp_path, 1000)

    result = subprocess.run([sys.executable, "-m", "shipper", "status", "--config", str(cfg), "--json"],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    agent.kill()

    tables = json.loads(result.stdout)
    assert tables["sources"] == [{"source": "app", "type": "file", "file": str(log), "offset": "10.7 KiB",
                                  "size": "10.7 KiB", "lag": "0 B"}]
    assert tables["sinks"][0]["sink"] == "out" and tables["sinks"][0]["backlog"] == "1000"


def test_status_watch_redraws_in_a_terminal_as_the_agent_reads(tmp_path):
    log, cfg, agent = agent_that_read(tmp_path, 100)
    command = (f"cd {ROOT} && {sys.executable} -m shipper status --config {cfg} --watch 0.3; "
               "echo watch-ended-$?; sleep 30")
    try:
        with terminal(command, 200) as screen:
            wait_for(lambda: "1.1 KiB" in screen(), 10, "status drawn")
            with open(log, "a") as handle:
                handle.write("".join(f"line {i:05d}\n" for i in range(100, 1100)))
            wait_for(lambda: "11.8 KiB" in screen(), 20, "status drawn again with the new offset")
            drawn = screen()
            screen.keys("C-c")
            wait_for(lambda: "watch-ended-0" in screen(), 10, "watch ended by Ctrl-C with 0")
    finally:
        agent.kill()

    assert drawn.count("last error") == 1  # redrawn in place, not scrolled


def test_status_lists_parked_streams_with_their_records_and_reason(tmp_path):
    cfg = config(tmp_path, {"type": "console"})
    spool = Spool.open(tmp_path / "data", 64 * 1024 * 1024)
    spool.attach_sinks({"out": ["app"]})
    spool.parked_area.park("out", "/eks/locked\tapp-0", "ResourceNotFoundException: no such group",
               [{"timestamp": 1, "message": "a"}, {"timestamp": 2, "message": "b"}], [(1, 0), (1, 1)], 1024**2)
    spool.close()

    out = shipper_status(cfg)

    parked = out.split("\n\n")[2].splitlines()
    assert parked[0] == "parked streams"
    assert parked[2].split()[:3] == ["out", "/eks/locked/app-0", "2"]
    assert "ResourceNotFoundException" in parked[2]


def test_status_lists_a_matching_file_the_agent_has_not_opened_as_waiting_with_its_size_as_lag(tmp_path):
    log = write_lines(tmp_path, 10)
    cfg = config(tmp_path, {"type": "console"})
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_for(lambda: committed_offsets(tmp_path / "data").get(str(log)) == 110, 20, "the file read")
    agent.kill()
    late = tmp_path / "logs" / "late.log"
    late.write_text("x" * 99 + "\n")

    out = shipper_status(cfg)

    rows = [line.split() for line in out.split("\n\n")[0].splitlines()[2:]]
    assert ["app", "file", str(late), "waiting", "100", "B", "100", "B"] in rows
    assert not any(row[2] == str(log) and row[3] == "waiting" for row in rows)

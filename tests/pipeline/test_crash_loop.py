"""A component failing in a loop backs off, says why in one line (no traceback for what the machine
did, such as a port taken), is reported by /readyz, and never holds a SIGTERM up."""

from __future__ import annotations

import json
import socket
import subprocess
import time

from peers.rsyslog import free_port
from tests.agent_process import AgentProcess, http_get, wait_for, with_api, write_config


def test_sigterm_stops_an_agent_whose_forward_source_cannot_bind_its_port_within_shutdown_timeout(tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        cfg = write_config(tmp_path / "shipper.yaml", {
            "data_dir": str(tmp_path / "data"), "shutdown_timeout": "3s",
            "sources": {"docker": {"type": "forward", "address": f"127.0.0.1:{port}"}},
            "sinks": {"out": {"type": "console", "inputs": ["docker"]}}})
        api = with_api(cfg)
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: agent.log().count("restarting it in") >= 4, 60, "a crash loop backing off")
        status, body = http_get(f"{api}/readyz")
        started = time.monotonic()
        code = agent.terminate(timeout=30)
        took = time.monotonic() - started

    log = agent.log()
    assert code == 0 and took < 3 + 2  # the shutdown_timeout, and the process's own exit
    assert "Traceback" not in log
    assert f"source docker failed: cannot listen on 127.0.0.1:{port}" in log
    assert log.split("SIGTERM received")[1].count("restarting it in") == 0
    assert status == 503 and json.loads(body)["problems"]["docker"]["reason"] == "crash_loop"

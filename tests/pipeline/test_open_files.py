"""A node with more log files than the soft limit on open files it was started with is tailed whole."""

from __future__ import annotations

import resource

from tests.agent_process import AgentProcess, wait_for, write_config

FILES = 1_500  # more than a soft limit of 1,024 (systemd's default for services) leaves room for


def test_every_file_is_tailed_when_there_are_more_than_the_inherited_soft_limit_on_open_files(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(FILES):
        (logs / f"app-{n}.log").write_text(f"line of file {n}\n")
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(logs / "*.log")]}},
        "sinks": {"out": {"type": "console", "inputs": ["app"]}},
    })
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard > FILES + 100, "the test needs a hard limit above the file count"
    out = open(tmp_path / "out.jsonl", "wb")  # noqa: SIM115 - closed below
    resource.setrlimit(resource.RLIMIT_NOFILE, (1_024, hard))  # what the child inherits
    try:
        agent = AgentProcess(cfg, stdout=out)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    wait_for(lambda: (tmp_path / "out.jsonl").read_bytes().count(b"\n") >= FILES, 60, f"{FILES} lines")
    assert agent.terminate(timeout=20) == 0
    out.close()

    shipped = (tmp_path / "out.jsonl").read_text()
    assert all(f"line of file {n}" in shipped for n in range(FILES))
    assert "skipping" not in agent.log()
    assert "open files limit raised from 1024" in agent.log()

"""A node with more log files than the soft limit on open files it was started with is tailed whole."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.agent_process import AgentProcess, http_get, wait_for, wait_while_progressing, with_api, write_config
from tests.node import cri_time, make_pod

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


PODS = int(os.environ.get("SHIPPER_TEST_PODS", "5000"))  # far more than a hard limit of 1,024 descriptors allows open


@pytest.mark.slow
@pytest.mark.parametrize("lowered", [False, True], ids=["the limit inherited", "the limit lowered under it: EMFILE"])
def test_under_a_hard_limit_of_1024_five_thousand_rotated_and_deleted_files_arrive_exactly_once(tmp_path, lowered):
    pods = [make_pod(tmp_path, "jobs", f"job-{n}") for n in range(PODS)]
    expected: list[str] = []

    def write(pod: Path, name: str, lines: range) -> None:
        with open(pod / name, "a") as handle:
            for i in lines:
                message = f"{pod.parent.name} line {i}"
                handle.write(f"{cri_time(time.time_ns())} stdout F {message}\n")
                expected.append(message)

    for pod in pods:
        write(pod, "0.log", range(0, 10))
    source = {"type": "kubernetes_logs", "include": [str(tmp_path / "containers" / "*.log")], "close_inactive": "2s"}
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"), "sources": {"pods": source},
        "sinks": {"out": {"type": "console", "encoding": "text", "inputs": ["pods"]}}})
    api = with_api(cfg)
    output = tmp_path / "out.txt"

    def delivered() -> list[str]:
        return output.read_text().splitlines()

    with open(output, "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout, command=[
            "prlimit", "--nofile=1024:1024", "--", sys.executable, "-m", "shipper", "run", "--config", str(cfg)])
        agent.wait_until_running()
        # a file rotated away before the agent ever saw it is a file no agent can know of
        wait_for(lambda: followed_or_waiting(api) == PODS, 60, "every file found")
        if lowered:  # the agent took half of 1,024 for files: now the kernel refuses it long before that
            subprocess.run(["prlimit", f"--pid={agent.process.pid}", "--nofile=300:1024"], check=True)
        for pod in pods:  # kubelet's rotation: more lines, the file renamed, a new one in its place
            write(pod, "0.log", range(10, 15))
            os.rename(pod / "0.log", pod / "0.log.20261202-101500")
            write(pod, "0.log", range(15, 20))
        # paced by design: ~240 descriptors, each file holding one for close_inactive after its last line
        wait_while_progressing(lambda: len(delivered()), len(expected), 120, "every line before the deletions")
        for n, pod in enumerate(pods):  # kubelet deletes old rotated files, and whole pods that ended
            if n % 5 == 0:
                shutil.rmtree(pod.parent)
                os.unlink(next((tmp_path / "containers").glob(f"job-{n}_jobs_*")))
            else:
                os.unlink(pod / "0.log.20261202-101500")
                write(pod, "0.log", range(20, 25))
        wait_while_progressing(lambda: len(delivered()), len(expected), 120, "every line")
        assert agent.terminate(timeout=30) == 0

    counts = Counter(delivered())
    assert set(counts) == set(expected), f"lost: {sorted(set(expected) - set(counts))[:5]}"
    assert [line for line, n in counts.items() if n > 1] == [], "lines delivered twice"
    assert "Traceback" not in agent.log()
    assert ("out of file descriptors" in agent.log()) == lowered  # EMFILE happened, and only there


def followed_or_waiting(api: str) -> int:
    """Files the agent follows or has queued for a descriptor, from its metrics."""
    _, text = http_get(f"{api}/metrics")
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith(("shipper_files_followed{", "shipper_files_waiting{")))

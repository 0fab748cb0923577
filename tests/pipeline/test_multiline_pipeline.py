"""Multi-line grouping in the running agent: the last trace is shipped by the timeout, a kill -9 while a
group is open neither loses nor repeats its lines, and exceptions mode groups a container's traces."""

from __future__ import annotations

from pathlib import Path

from tests.agent_process import (
    AgentProcess,
    blocked_pipe,
    committed_offsets,
    output_messages,
    spooled_messages,
    wait_for,
    write_config,
)
from tests.node import make_pod, write_cri
from tests.sources.test_multiline import DATED, GO, JAVA, PYTHON


def config(tmp_path: Path, timeout: str) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")],
                            "poll_interval": "20ms", "multiline": {"start_pattern": DATED, "timeout": timeout}}},
        "sinks": {"out": {"type": "console", "inputs": ["app"]}},
    })


def append(path: Path, lines: list[str]) -> None:
    with open(path, "a") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def spooled(tmp_path: Path) -> list[str]:
    return [message for _, message in spooled_messages(tmp_path / "data")]


def test_the_last_trace_is_shipped_by_the_timeout_without_a_following_line(tmp_path):
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "app.log"
    append(log, [*JAVA, *PYTHON, *GO])
    _, write_end = blocked_pipe()
    agent = AgentProcess(config(tmp_path, timeout="300ms"), stdout=write_end)

    wait_for(lambda: len(spooled(tmp_path)) == 3, 20, "three grouped records")

    assert spooled(tmp_path) == ["\n".join(JAVA), "\n".join(PYTHON), "\n".join(GO)]
    agent.kill()


def test_kill_9_with_a_group_open_then_restart_ships_it_once_and_whole(tmp_path):
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "app.log"
    cfg = config(tmp_path, timeout="1h")  # only a start line closes a group in this test
    _, write_end = blocked_pipe()
    append(log, [*JAVA, *PYTHON[:3]])
    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: spooled(tmp_path) == ["\n".join(JAVA)], 20, "the Java trace committed")
    size = log.stat().st_size
    wait_for(lambda: committed_offsets(tmp_path / "data").get(str(log)) == size, 20,
             "the offset past the open Python group")
    agent.kill()

    append(log, [*PYTHON[3:], *GO, "2026-11-22 10:15:09 INFO done"])
    agent = AgentProcess(cfg, stdout=write_end)

    wait_for(lambda: len(spooled(tmp_path)) == 3, 20, "the Python and Go traces")
    assert spooled(tmp_path) == ["\n".join(JAVA), "\n".join(PYTHON), "\n".join(GO)]
    agent.kill()



def test_exceptions_mode_groups_a_containers_traces_and_a_trace_cut_by_rotation_loses_no_line(tmp_path):
    """kubernetes_logs with `mode: exceptions`: a Java trace on stderr is one record while stdout lines
    pass; a trace the kubelet's rotation cuts ships as the part in each file, every line once."""
    pod_dir = make_pod(tmp_path, "shop", "web-1")
    cfg = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"pods": {"type": "kubernetes_logs", "include": [str(tmp_path / "containers" / "*.log")],
                             "poll_interval": "20ms", "discover_interval": "100ms",
                             "multiline": {"mode": "exceptions", "timeout": "300ms"}}},
        "sinks": {"out": {"type": "console", "inputs": ["pods"]}},
    })
    trace = JAVA[1:]  # from the exception line
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        write_cri(pod_dir, ["before"])
        write_cri(pod_dir, trace, stream="stderr")
        write_cri(pod_dir, ["between"])
        wait_for(lambda: len(output_messages(out)) == 3, 20, "the stdout lines and the whole trace")
        write_cri(pod_dir, trace[:3], stream="stderr")
        (pod_dir / "0.log").rename(pod_dir / "0.log.20261207-101500")
        write_cri(pod_dir, [*trace[3:], "after"], stream="stderr")
        wait_for(lambda: len(output_messages(out)) == 6, 20, "the cut trace in two parts and the last line")
        # the new file's part: `Caused by: ...IOException:` starts a trace of its own
        assert agent.terminate(timeout=10) == 0

    delivered = output_messages(out)
    assert delivered[:3] == ["before", "between", "\n".join(trace)]  # stdout passes; the trace waits its timeout
    assert sorted(delivered[3:]) == sorted(["\n".join(trace[:3]), "\n".join(trace[3:]), "after"])

"""The whole agent as a child process: kill -9 never loses or re-reads a line; SIGTERM drains in time."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.agent_process import (
    AgentProcess,
    blocked_pipe,
    committed_offsets,
    output_messages,
    spooled_messages,
    wait_for,
    write_config,
)


def config(tmp_path: Path, shutdown_timeout: str = "3s") -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "shutdown_timeout": shutdown_timeout,
        "sources": {"app": {"type": "file", "include": [str(tmp_path / "logs" / "*.log")],
                            "poll_interval": "20ms", "read_block_size": "64KiB"}},
        "sinks": {"out": {"type": "console", "inputs": ["app"]}},
    })


class Writer(threading.Thread):
    """Appends numbered lines to several files in chunks that cut lines in the middle."""

    def __init__(self, directory: Path, files: int, lines: int, seed: int):
        super().__init__(daemon=True)
        directory.mkdir(parents=True, exist_ok=True)
        self.paths = [directory / f"app-{n}.log" for n in range(files)]
        self.lines = {str(p): [f"{p.stem} line {i:06d} " + "x" * (i % 90) for i in range(lines)]
                      for p in self.paths}
        self.random = random.Random(seed)

    def run(self) -> None:
        data = {path: "".join(f"{line}\n" for line in lines).encode() for path, lines in self.lines.items()}
        written = dict.fromkeys(data, 0)
        while any(written[p] < len(data[p]) for p in data):
            for path, payload in data.items():
                step = self.random.randint(1, 20_000)
                with open(path, "ab", buffering=0) as handle:
                    handle.write(payload[written[path] : written[path] + step])
                written[path] = min(len(payload), written[path] + step)
            time.sleep(0.005)

    def total(self) -> int:
        return sum(len(lines) for lines in self.lines.values())


def assert_prefixes_without_repeats(spooled: list[tuple[str, str]], expected: dict[str, list[str]]) -> None:
    per_file: dict[str, list[str]] = {}
    for file, message in spooled:
        per_file.setdefault(file, []).append(message)
    for file, messages in per_file.items():
        assert messages == expected[file][: len(messages)], f"{file}: spool is not an exact prefix of the file"


@pytest.mark.slow
def test_kill_9_during_ingestion_never_loses_nor_re_reads_a_committed_line(tmp_path):
    rng = random.Random(20261122)
    writer = Writer(tmp_path / "logs", files=3, lines=15_000, seed=rng.randint(0, 10**6))
    cfg = config(tmp_path)
    read_end, write_end = blocked_pipe()  # the sink can never deliver: everything read stays in the spool
    writer.start()
    kills = 0
    while writer.is_alive() or kills < 12:
        agent = AgentProcess(cfg, stdout=write_end)
        time.sleep(rng.uniform(0.05, 0.5))
        agent.kill()
        kills += 1
        assert_prefixes_without_repeats(spooled_messages(tmp_path / "data"), writer.lines)
    agent = AgentProcess(cfg, stdout=write_end)
    wait_for(lambda: len(spooled_messages(tmp_path / "data")) == writer.total(), 60, "every line in the spool")
    agent.kill()
    os.close(write_end)
    os.close(read_end)

    spooled = spooled_messages(tmp_path / "data")
    assert_prefixes_without_repeats(spooled, writer.lines)
    assert len(spooled) == writer.total()

    out = tmp_path / "delivered.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        wait_for(lambda: len(output_messages(out)) >= writer.total(), 60, "delivery of the spool")
        assert agent.terminate(timeout=10) == 0
    delivered = Counter(output_messages(out))
    assert delivered == Counter(line for lines in writer.lines.values() for line in lines)


@pytest.mark.slow
def test_kill_9_during_ingestion_and_delivery_loses_nothing(tmp_path):
    rng = random.Random(7)
    writer = Writer(tmp_path / "logs", files=2, lines=20_000, seed=rng.randint(0, 10**6))
    cfg = config(tmp_path)
    outputs: list[Path] = []
    writer.start()
    while writer.is_alive() or len(outputs) < 10:
        outputs.append(tmp_path / f"run-{len(outputs)}.jsonl")
        with open(outputs[-1], "wb") as stdout:
            agent = AgentProcess(cfg, stdout=stdout)
            time.sleep(rng.uniform(0.05, 0.5))
            agent.kill()
    expected = {line for lines in writer.lines.values() for line in lines}
    outputs.append(tmp_path / "final.jsonl")
    with open(outputs[-1], "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()

        def union() -> set[str]:
            return {m for path in outputs for m in output_messages(path)}

        wait_for(lambda: union() >= expected, 60, "every line delivered")
        assert agent.terminate(timeout=10) == 0

    delivered = Counter(m for path in outputs for m in output_messages(path))
    assert set(delivered) == expected
    duplicates = sum(count - 1 for count in delivered.values())
    print(f"{len(outputs) - 1} kills, {len(expected)} lines, {duplicates} delivered twice (at-least-once)")


class SlowReader(threading.Thread):
    """Reads the agent's stdout pipe a little at a time: a sink that can deliver only slowly."""

    def __init__(self, fd: int):
        super().__init__(daemon=True)
        self.fd = fd
        self.data = bytearray()

    def run(self) -> None:
        while chunk := os.read(self.fd, 4096):
            self.data += chunk
            time.sleep(0.02)

    def messages(self, path: Path) -> list[str]:
        path.write_bytes(bytes(self.data))
        return output_messages(path)


@pytest.mark.slow
def test_sigterm_with_100k_queued_exits_0_in_time_and_the_rest_is_delivered_next_start(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = [f"record {i:06d} " + "z" * 100 for i in range(100_000)]
    (logs / "big.log").write_text("".join(f"{line}\n" for line in lines))
    cfg = config(tmp_path, shutdown_timeout="3s")
    read_end, write_end = os.pipe()
    reader = SlowReader(read_end)
    reader.start()
    agent = AgentProcess(cfg, stdout=write_end)
    os.close(write_end)
    size = (logs / "big.log").stat().st_size
    wait_for(lambda: committed_offsets(tmp_path / "data").get(str(logs / "big.log")) == size, 60,
             "the whole file committed to the spool")

    started = time.monotonic()
    code = agent.terminate(timeout=30)
    elapsed = time.monotonic() - started

    assert code == 0
    assert elapsed <= 3 + 1, f"exit took {elapsed:.2f}s"
    reader.join(10)
    first = reader.messages(tmp_path / "first.jsonl")
    assert len(first) < len(lines), "the slow sink should not have delivered everything before SIGTERM"

    out = tmp_path / "second.jsonl"
    with open(out, "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        wait_for(lambda: set(first) | set(output_messages(out)) >= set(lines), 60, "the remainder delivered")
        assert agent.terminate(timeout=10) == 0
    assert set(first) | set(output_messages(out)) == set(lines)

"""Drive the real agent binary as a child process, and read its spool from outside."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import orjson
import yaml
from prometheus_client.parser import text_string_to_metric_families

from shipper.buffer import columns


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class AgentProcess:
    """One `shipper run` child; stdout goes where the test says (a file, a pipe)."""

    _runs = 0
    started: ClassVar[list[AgentProcess]] = []  # killed after each test by conftest, pass or fail

    def __init__(self, config_path: Path, stdout: IO[bytes] | int, command: list[str] | None = None):
        """`command` replaces `python -m shipper run --config <config_path>` (an agent in a chroot)."""
        AgentProcess._runs += 1
        self.log_path = config_path.parent / f"agent-{AgentProcess._runs}.log"
        with open(self.log_path, "wb") as stderr:
            self.process = subprocess.Popen(
                command or [sys.executable, "-m", "shipper", "run", "--config", str(config_path)],
                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
            )
        AgentProcess.started.append(self)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_running(self, timeout: float = 30) -> None:
        """Until the agent has started its components (and handles signals)."""
        wait_for(lambda: "running " in self.log() or self.process.poll() is not None, timeout, "agent start")
        assert self.process.poll() is None, self.log()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def terminate(self, timeout: float) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll a condition that only an outside process can change (files, a database)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def spooled_messages(data_dir: Path) -> list[tuple[str, str]]:
    """(file, message) of every record in the spool, in spool order; [] when there is no spool yet."""
    path = data_dir / "spool.db"
    if not path.exists():
        return []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute(
            "SELECT common, timestamps, messages, field_values, field_refs FROM blocks ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        connection.close()
    out = []
    for common, *stored in rows:
        file = orjson.loads(common).get("file")
        _, messages, _ = columns.decode(columns.Columns(*stored))
        out += [(file, message) for message in messages]
    return out


def spooled_streams(data_dir: Path) -> dict[str, list[tuple[str, Any]]]:
    """Stream -> (message, fields) of its records, in spool order; {} when there is no spool yet."""
    path = data_dir / "spool.db"
    if not path.exists():
        return {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute(
            "SELECT source, timestamps, messages, field_values, field_refs FROM blocks ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return {}
    finally:
        connection.close()
    out: dict[str, list[tuple[str, Any]]] = {}
    for stream, *stored in rows:
        _, messages, fields = columns.decode(columns.Columns(*stored))
        out.setdefault(stream, []).extend(zip(messages, fields, strict=True))
    return out


def committed_offsets(data_dir: Path) -> dict[str, int]:
    """File path -> committed offset, from the checkpoints table."""
    path = data_dir / "spool.db"
    if not path.exists():
        return {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute("SELECT value FROM checkpoints").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        connection.close()
    return {data["path"]: data["offset"] for data in (orjson.loads(value) for (value,) in rows)}


def blocked_pipe() -> tuple[int, int]:
    """A pipe whose buffer is already full: a console sink writing to it can never finish a write."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        while True:
            os.write(write_end, b"#" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)
    return read_end, write_end


def output_messages(path: Path) -> list[str]:
    """Messages of the JSON lines a console sink wrote to `path` (a line cut by a kill is ignored)."""
    messages = []
    for line in path.read_bytes().splitlines():
        try:
            messages.append(orjson.loads(line)["message"])
        except orjson.JSONDecodeError:
            continue
    return messages


def with_api(config_path: Path, **options: Any) -> str:
    """Turn on the agent's HTTP API on a free loopback port (with `options`); returns its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = yaml.safe_load(config_path.read_text())
    config["api"] = {"address": f"127.0.0.1:{port}", **options}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return f"http://127.0.0.1:{port}"


def scraped(api: str, name: str, **labels: str) -> float:
    """The sum of metric `name`'s samples that carry `labels`, from the agent's /metrics (0 until it answers)."""
    status, body = http_get(f"{api}/metrics")
    if status != 200:
        return 0.0
    return sum(s.value for family in text_string_to_metric_families(body) for s in family.samples
               if s.name == name and labels.items() <= s.labels.items())


def scraped_by(api: str, name: str, label: str, **labels: str) -> dict[str, float]:
    """Metric `name`'s samples that carry `labels`, summed by the value of `label` ({} until it answers)."""
    status, body = http_get(f"{api}/metrics")
    found: dict[str, float] = {}
    if status == 200:
        for sample in (s for family in text_string_to_metric_families(body) for s in family.samples):
            if sample.name == name and labels.items() <= sample.labels.items():
                key = sample.labels.get(label, "")
                found[key] = found.get(key, 0.0) + sample.value
    return found


def write_lines(directory: Path, lines: list[str], name: str = "app.log") -> None:
    """Append `lines` to `directory`/logs/`name`, the plain file source's input in these tests."""
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / name, "a", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)


def numbered(count: int, start: int = 0) -> list[str]:
    """Lines that say their place (and carry non-ASCII text)."""
    return [f"line {n:06d} ünïcödé" for n in range(start, start + count)]


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET; (0, error) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


@contextlib.contextmanager
def terminal(command: str, width: int = 160, height: int = 30) -> Iterator[Callable[..., str]]:
    """`command` in a real terminal (a tmux session, closed after); yields `screen(escapes=False)`, what
    the terminal shows now (with its colour escapes when asked), and `keys(...)` types into it."""
    tmux = shutil.which("tmux") or "/usr/bin/tmux"
    session = f"shipper-test-{time.monotonic_ns()}"
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command],
                   check=True)

    def screen(escapes: bool = False) -> str:
        flags = ["-e"] if escapes else []
        return subprocess.run([tmux, "capture-pane", "-p", *flags, "-t", session], capture_output=True, text=True,
                              check=True).stdout

    def keys(*typed: str) -> None:
        subprocess.run([tmux, "send-keys", "-t", session, *typed], check=True)

    screen.keys = keys  # type: ignore[attr-defined]
    try:
        yield screen
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], check=False, capture_output=True)


def wait_while_progressing(progress: Callable[[], int], goal: int, stall: float, what: str,
                           interval: float = 0.2) -> None:
    """Poll `progress` (a count an outside process raises) until it reaches `goal`; fail when it stops
    rising for `stall` seconds. For work paced by design rather than by the machine (files waiting for
    descriptors that idle files give up every close_inactive): a stall is a bug, a slow machine is not."""
    best, since = progress(), time.monotonic()
    while best < goal:
        if time.monotonic() - since > stall:
            raise AssertionError(f"{what}: stuck at {best} of {goal} for {stall}s")
        time.sleep(interval)
        now = progress()
        if now > best:
            best, since = now, time.monotonic()

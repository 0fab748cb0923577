"""The simulated node: container runtimes writing pod logs (CRI, rotated like kubelet), a docker
json-file container, journald, a forward client, and the hostile inputs real nodes have.

Every line carries `id=<origin>:<seq>` and goes into the ledger before it is written.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

import msgpack

from shipper.sources.forward.protocol import event_time
from tests.journal import entry, write_journal
from tests.node import cri_time
from tests.reliability.commits import CommitWatcher
from tests.reliability.ledger import NORMAL, REPAIRED, Ledger, line_id

DAY_NS = 24 * 3600 * 10**9
TICK = 0.05


class Writer(threading.Thread):
    """Writes `rate` lines a second, every `tick` seconds, until stopped; subclasses say how a line is
    written (and rotated), and what `flush` does with lines written in one tick."""

    tick = TICK

    def __init__(self, origin: str, rate: float, ledger: Ledger, commits: CommitWatcher, seed: int):
        super().__init__(daemon=True, name=origin)
        self.origin = origin
        self.rate = rate
        self.ledger = ledger
        self.commits = commits
        self.random = random.Random(seed)
        self.seq = 0
        self.stopping = threading.Event()
        self.waited_for_agent = 0.0  # seconds a deletion waited for the agent to finish a file
        self._lock = threading.Lock()  # one writer of the file at a time (the thread or an injection)

    def run(self) -> None:
        owed = 0.0
        while not self.stopping.wait(self.tick):
            owed += self.rate * self.tick
            with self._lock:
                while owed >= 1:
                    owed -= 1
                    self.write_next(time.time_ns(), NORMAL)
                self.flush()

    def write_next(self, stamp_ns: int, kind: str) -> str:
        identifier = line_id(self.origin, self.seq)
        self.seq += 1
        text = f"id={identifier} " + "x" * self.random.randrange(0, 120)
        self.ledger.add(identifier, text, kind)
        self.write(text, stamp_ns)
        return identifier

    def write(self, text: str, stamp_ns: int) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Lines are written as they come, unless a subclass batches them."""

    def inject(self, stamps_ns: list[int], kind: str) -> list[str]:
        """Lines with the given timestamps, between the writer's own (clock jumps)."""
        with self._lock:
            ids = [self.write_next(stamp, kind) for stamp in stamps_ns]
            self.flush()
            return ids

    def _create(self, path: Path) -> TextIO:
        """Open a new log file for appending, like a container runtime (kept open across writes)."""
        handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - the writer keeps it
        self.commits.created(path)
        return handle

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)


class PodWriter(Writer):
    """A container's CRI log in `pods/<ns>_<pod>_<uid>/<container>/0.log` with its link in
    `containers/`; rotated like kubelet: rename to `0.log.<time>`, gzip all but the newest rotated
    file, keep `max_files`."""

    def __init__(self, root: Path, namespace: str, pod: str, rate: float, rotate_bytes: int, ledger: Ledger,
                 commits: CommitWatcher, seed: int, max_files: int = 4):
        super().__init__(f"{namespace}.{pod}", rate, ledger, commits, seed)
        self.namespace, self.pod = namespace, pod
        uid = f"{seed:08d}-0000-0000-0000-000000000000"
        self.directory = root / "pods" / f"{namespace}_{pod}_{uid}" / "app"
        self.directory.mkdir(parents=True)
        self.link = root / "containers" / f"{pod}_{namespace}_app-{seed:064d}.log"
        self.link.parent.mkdir(exist_ok=True)
        self.log = self.directory / "0.log"
        self.rotate_bytes = rotate_bytes
        self.max_files = max_files
        self.handle = self._create(self.log)
        os.symlink(self.log, self.link)
        self.rotations = 0

    def write(self, text: str, stamp_ns: int) -> None:
        stamp = cri_time(stamp_ns)
        if len(text) > 30 and self.random.random() < 0.1:  # the runtime splits long lines: P fragments
            self.handle.write(f"{stamp} stdout P {text[:20]}\n{stamp} stdout F {text[20:]}\n")
        else:
            self.handle.write(f"{stamp} {self.random.choice(('stdout', 'stderr'))} F {text}\n")
        self.handle.flush()
        if self.handle.tell() >= self.rotate_bytes:
            self._rotate()

    def _rotate(self) -> None:
        # A file rotated before the agent ever opened it is out of every agent's reach (rotated names
        # are not tailed); kubelet rotates at 10 MiB, long after any agent has found the file.
        self.waited_for_agent += self.commits.wait_seen(self.log)
        self.handle.close()
        self.log.rename(self.directory / f"0.log.{time.strftime('%Y%m%d-%H%M%S')}.{self.rotations:04d}")
        self.rotations += 1
        self.handle = self._create(self.log)
        rotated = sorted(p for p in self.directory.glob("0.log.*") if not p.name.endswith(".gz"))
        for old in rotated[:-1]:  # all but the newest are compressed: the agent must be done with them
            self.waited_for_agent += self.commits.wait_fully_read([old])
            with open(old, "rb") as src, gzip.open(f"{old}.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            old.unlink()
        for gz in sorted(self.directory.glob("0.log.*.gz"))[: -(self.max_files - 2) or None]:
            gz.unlink()

    def delete_pod(self) -> None:
        """The pod is gone: kubelet removes its logs (once the agent has read them all)."""
        self.stop()
        self.handle.close()
        files = [p for p in self.directory.glob("0.log*") if not p.name.endswith(".gz")]
        self.waited_for_agent += self.commits.wait_fully_read(files)
        self.link.unlink()
        shutil.rmtree(self.directory.parent)


class DockerWriter(Writer):
    """A docker json-file container (`<id>-json.log`, rotated to `.1`, `.2`) behind its kubelet link."""

    def __init__(self, root: Path, rate: float, rotate_bytes: int, ledger: Ledger, commits: CommitWatcher,
                 seed: int):
        super().__init__("legacy.docker", rate, ledger, commits, seed)
        container = f"{seed:064x}"
        self.directory = root / "docker" / container
        self.directory.mkdir(parents=True)
        self.log = self.directory / f"{container}-json.log"
        link = root / "containers" / f"docker-app_legacy_app-{container}.log"
        link.parent.mkdir(exist_ok=True)
        self.rotate_bytes = rotate_bytes
        self.handle = self._create(self.log)
        os.symlink(self.log, link)

    def write(self, text: str, stamp_ns: int) -> None:
        stamp = cri_time(stamp_ns)
        self.handle.write(json.dumps({"log": text + "\n", "stream": "stdout", "time": stamp}) + "\n")
        self.handle.flush()
        if self.handle.tell() >= self.rotate_bytes:
            self.waited_for_agent += self.commits.wait_seen(self.log)
            self.handle.close()
            second = Path(f"{self.log}.2")
            if second.exists():  # max-file 3: the oldest goes, once read
                self.waited_for_agent += self.commits.wait_fully_read([second])
                second.unlink()
            first = Path(f"{self.log}.1")
            if first.exists():
                first.rename(second)
            self.log.rename(first)
            self.handle = self._create(self.log)


class JournalWriter(Writer):
    """Entries appended to a journal file by systemd-journal-remote, a batch per tick."""

    tick = TICK * 4  # a systemd-journal-remote process per batch

    def __init__(self, directory: Path, rate: float, ledger: Ledger, commits: CommitWatcher, seed: int):
        super().__init__("journal.kubelet", rate, ledger, commits, seed)
        self.path = directory / "remote.journal"
        self.pending: list[bytes] = []

    def write(self, text: str, stamp_ns: int) -> None:
        self.pending.append(entry(self.seq, text, realtime_us=stamp_ns // 1000))

    def flush(self) -> None:
        if self.pending:
            write_journal(self.path, self.pending)
            self.pending = []


def clock_jump_stamps(rng: random.Random, count: int) -> tuple[list[int], list[int]]:
    """Timestamps far in the past (20-40 days) and future (1-3 days): CloudWatch refuses both."""
    now = time.time_ns()
    old = [now - rng.randint(20, 40) * DAY_NS for _ in range(count)]
    new = [now + rng.randint(1, 3) * DAY_NS for _ in range(count)]
    return old, new


class Hostile:
    """Inputs that crash or wedge careless agents, in the `hostile/` directory a file source reads."""

    def __init__(self, root: Path, ledger: Ledger, rng: random.Random):
        self.directory = root / "hostile"
        self.tiny = self.directory / "tiny"
        self.tiny.mkdir(parents=True)
        self.ledger = ledger
        self.random = rng
        self.seq = 0
        self.big_line_bytes = 0
        self.garbage_file = self.directory / "garbage.log"
        self.utf8_file = self.directory / "invalid utf8 \u00fc\u65e5\u672c.log"  # spaces and unicode too
        self.big_file = self.directory / "big.log"

    def _line(self, origin: str, payload: bytes, kind: str, message: str) -> bytes:
        identifier = line_id(origin, self.seq)
        self.seq += 1
        self.ledger.add(identifier, f"id={identifier} {message}", kind)
        return f"id={identifier} ".encode() + payload + b"\n"

    def garbage(self, count: int) -> int:
        """Random bytes (never a newline) after each id; they arrive repaired to valid UTF-8."""
        lines = []
        for _ in range(count):
            payload = bytes(self.random.randrange(256) for _ in range(self.random.randrange(1, 300)))
            payload = payload.replace(b"\n", b" ")
            lines.append(self._line("hostile.garbage", payload, REPAIRED, ""))
        self._append(self.garbage_file, lines)
        return sum(1 for line in lines if not _is_utf8(line))

    def invalid_utf8(self, count: int) -> int:
        lines = [self._line("hostile.utf8", b"caf\xe9 \xff\xfe \xc3( ok", REPAIRED, "") for _ in range(count)]
        self._append(self.utf8_file, lines)
        return count

    def big_line(self, size: int) -> None:
        """One line of `size` bytes with no newline yet; `end_big_line` writes it later."""
        identifier = line_id("hostile.big", self.seq)
        self.seq += 1
        self.ledger.add(identifier, f"id={identifier} ", REPAIRED)
        with open(self.big_file, "ab") as handle:
            handle.write(f"id={identifier} ".encode())
            chunk = b"x" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                handle.write(chunk)
            handle.write(b"x" * (size % len(chunk)))
        self.big_line_bytes += size

    def end_big_line(self) -> None:
        with open(self.big_file, "ab") as handle:
            handle.write(b"\n")

    def tiny_files(self, count: int) -> None:
        for _ in range(count):
            identifier = line_id("hostile.tiny", self.seq)
            self.seq += 1
            text = f"id={identifier} tiny"
            self.ledger.add(identifier, text, NORMAL)
            (self.tiny / f"{identifier.replace(':', '-')}.log").write_text(text + "\n")

    def file_becomes_fifo(self) -> Path:
        """A file with lines, read, then replaced by a FIFO at the same path (never opened blocking)."""
        path = self.directory / "fifo.log"
        self._append(path, [self._line("hostile.fifo", b"before the fifo", NORMAL, "before the fifo")])
        return path

    def replace_by_fifo(self, path: Path) -> None:
        path.unlink()
        os.mkfifo(path)

    def odd_entries(self) -> None:
        """A directory and a symlink loop where log files are expected."""
        (self.directory / "a directory.log").mkdir()
        os.symlink(self.directory / "loop-b.log", self.directory / "loop-a.log")
        os.symlink(self.directory / "loop-a.log", self.directory / "loop-b.log")

    @staticmethod
    def _append(path: Path, lines: list[bytes]) -> None:
        with open(path, "ab") as handle:
            handle.write(b"".join(lines))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False



class ForwardWriter(Writer):
    """A forward client as Fluent Bit is with `Require_ack_response`: each tick's lines go in one
    Forward-mode message with a chunk id, and a message whose ack does not come (the agent killed,
    restarting, its spool full) is sent again on a new connection until it is acknowledged. So a line
    may arrive more than once, never not at all; `resent` counts, per id, how many times its message
    was sent again (the most extra copies a backend that adds none of its own may hold)."""

    tick = 0.2

    def __init__(self, port: int, rate: float, ledger: Ledger, commits: CommitWatcher, seed: int):
        super().__init__("forward.app", rate, ledger, commits, seed)
        self.port = port
        self.resent: Counter[str] = Counter()
        self._pending: list[tuple[int, str]] = []
        self._socket: socket.socket | None = None
        self._chunks = 0

    def write(self, text: str, stamp_ns: int) -> None:
        self._pending.append((stamp_ns, text))

    def flush(self) -> None:
        if not self._pending:
            return
        self._chunks += 1
        chunk = f"{self.origin}-{self._chunks}"
        entries = [[event_time(stamp // 10**9, stamp % 10**9), {"log": text, "source": "stdout"}]
                   for stamp, text in self._pending]
        payload = msgpack.packb(["forward.app", entries, {"chunk": chunk, "size": len(entries)}])
        while not self._sent(payload, chunk):
            self.resent.update(text.split(" ", 1)[0].removeprefix("id=") for _, text in self._pending)
            time.sleep(0.2)
        self._pending.clear()

    def _sent(self, payload: bytes, chunk: str) -> bool:
        """Sent and acknowledged; False on any failure (the connection is dropped)."""
        try:
            if self._socket is None:
                self._socket = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            self._socket.sendall(payload)
            answers = msgpack.Unpacker()
            while True:
                data = self._socket.recv(4096)
                if not data:
                    raise ConnectionError("closed before the ack")
                answers.feed(data)
                if any(isinstance(a, dict) and a.get("ack") == chunk for a in answers):
                    return True
        except (OSError, ValueError):
            if self._socket is not None:
                self._socket.close()
            self._socket = None
            return False

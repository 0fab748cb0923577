"""`shipper import-offsets`: the cut-over from Fluent Bit. Its tail database is built with the schema its
in_tail plugin creates (`in_tail_files`, plugins/in_tail/tail_sql.h) and written the way it writes it
(WAL, rows inserted then updated, rotated rows renamed); "Fluent Bit" here reads lines up to an offset,
ships them and stops. The real agent then starts from the imported checkpoints: every line exactly once."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from shipper.buffer.data_dir import DataDirLock
from shipper.cli import main
from shipper.sources.files.checkpoint import FileCheckpoint
from tests.agent_process import AgentProcess, output_messages, wait_for, write_config
from tests.node import cri_time, make_pod

FLUENT_BIT_SCHEMA = """CREATE TABLE IF NOT EXISTS in_tail_files (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, offset INTEGER, inode INTEGER, created INTEGER,
    rotated INTEGER DEFAULT 0)"""


class FluentBitTail:
    """What Fluent Bit's tail input leaves behind: lines shipped up to an offset, and its database."""

    def __init__(self, database: Path):
        self.database = database
        self.db = sqlite3.connect(database)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA wal_autocheckpoint=0")  # its rows stay in the WAL, as after a kill
        self.db.execute(FLUENT_BIT_SCHEMA)
        self.shipped: list[str] = []
        self.ids: dict[int, int] = {}  # inode -> row id

    def read(self, path: Path, upto: int | None = None, messages=lambda text: [text]) -> int:
        """Ship the complete lines of `path` before `upto` (default: all) and record the offset after them."""
        data = path.read_bytes()
        end = len(data) if upto is None else upto
        end = data.rfind(b"\n", 0, end) + 1
        for line in data[:end].decode().splitlines():
            self.shipped += messages(line)
        inode = os.stat(path).st_ino
        if inode not in self.ids:
            cursor = self.db.execute("INSERT INTO in_tail_files (name, offset, inode, created) VALUES (?, 0, ?, ?)",
                                     (str(path), inode, int(time.time())))
            self.ids[inode] = cursor.lastrowid
        self.db.execute("UPDATE in_tail_files SET offset = ? WHERE id = ?", (end, self.ids[inode]))
        self.db.commit()
        return end

    def rotated(self, inode: int, new_name: Path) -> None:
        self.db.execute("UPDATE in_tail_files SET name = ?, rotated = 1 WHERE id = ?", (str(new_name), self.ids[inode]))
        self.db.commit()

    def stop(self) -> None:
        """Stopped hard: the database file and its WAL stay as they are (copied before the close)."""
        kept = self.database.with_name("kept.db")
        for suffix in ("", "-wal"):
            Path(f"{kept}{suffix}").write_bytes(Path(f"{self.database}{suffix}").read_bytes())
        self.db.close()
        for suffix in ("", "-wal"):
            Path(f"{self.database}{suffix}").write_bytes(Path(f"{kept}{suffix}").read_bytes())
            Path(f"{kept}{suffix}").unlink()


class Writer(threading.Thread):
    """Appends `<name>:<n>` lines to a file until stopped; `rotate()` renames it away (logrotate's move)."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.count, self.written = path, 0, []
        self.lock, self.stopping = threading.Lock(), threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.lock, open(self.path, "a") as log:
                for _ in range(20):
                    line = f"{self.path.name}:{self.count}"
                    log.write(line + "\n")
                    self.written.append(line)
                    self.count += 1
            time.sleep(0.002)

    def rotate(self) -> Path:
        with self.lock:
            rotated = self.path.with_name(self.path.name + ".1")
            self.path.rename(rotated)
            self.path.touch()
            return rotated

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def shipper_config(tmp_path: Path, source: dict) -> Path:
    return write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"), "shutdown_timeout": "3s",
        "sources": {"logs": {"poll_interval": "20ms", "discover_interval": "100ms", **source}},
        "sinks": {"out": {"type": "console", "inputs": ["logs"]}},
    })


def fingerprint(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "" for p in paths]


def test_a_cut_over_while_files_are_written_and_rotated_ships_every_line_exactly_once_in_order(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    writers = [Writer(logs / "app.log"), Writer(logs / "other.log")]
    for writer in writers:
        writer.path.touch()
        writer.start()
    wait_for(lambda: all(w.count > 500 for w in writers), 30, "lines written")
    fluent_bit = FluentBitTail(tmp_path / "flb.db")
    for writer in writers:
        fluent_bit.read(writer.path)
    rotated = writers[0].rotate()  # after Fluent Bit's last look: it still names app.log, not rotated
    fluent_bit.stop()
    cfg = shipper_config(tmp_path, {"type": "file", "include": [str(logs / "*.log")], "read_from": "end"})

    assert main(["import-offsets", "--config", str(cfg), "--fluent-bit-db", str(fluent_bit.database)]) == 0

    with open(tmp_path / "out.jsonl", "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        wait_for(lambda: len(output_messages(tmp_path / "out.jsonl")) > 100, 30, "the agent to ship")
        for writer in writers:
            writer.stop()
        written = [line for w in writers for line in w.written]
        wait_for(lambda: len(output_messages(tmp_path / "out.jsonl")) + len(fluent_bit.shipped) >= len(written),
                 60, "every line")
        assert agent.terminate(20) == 0
    shipped = fluent_bit.shipped + output_messages(tmp_path / "out.jsonl")

    assert sorted(shipped) == sorted(written)  # each line once: none lost, none repeated
    for writer in writers:
        mine = [line for line in shipped if line.startswith(writer.path.name + ":")]
        assert mine == writer.written  # in the order written, across the cut-over and the rotation
    assert f"finishing {rotated}, rotated while stopped" in agent.log()


def test_the_report_names_each_file_and_why_a_row_was_skipped_and_the_database_is_left_as_it_was(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("tailed", "shrunk", "untracked", "moved"):
        (logs / f"{name}.log").write_text("".join(f"{name}:{n}\n" for n in range(10)))
    fluent_bit = FluentBitTail(tmp_path / "flb.db")
    at = fluent_bit.read(logs / "tailed.log", upto=40)
    moved_at = fluent_bit.read(logs / "moved.log", upto=30)
    (logs / "moved.log").rename(logs / "moved.log.1")  # rotated while Fluent Bit ran: it renamed its row
    fluent_bit.rotated(os.stat(logs / "moved.log.1").st_ino, logs / "moved.log.1")
    fluent_bit.read(logs / "shrunk.log")
    (logs / "shrunk.log").write_text("short\n")  # truncated in place after Fluent Bit read it
    gone = logs / "gone.log"
    gone.write_text("gone:0\n")
    fluent_bit.read(gone)
    gone.unlink()
    fluent_bit.stop()
    before = fingerprint(fluent_bit.database, Path(f"{fluent_bit.database}-wal"))
    cfg = shipper_config(tmp_path, {"type": "file", "include": [str(logs / "*.log")]})

    assert main(["import-offsets", "--config", str(cfg), "--fluent-bit-db", str(fluent_bit.database)]) == 0

    report = capsys.readouterr().out
    lines = {line.split("\t")[1]: line for line in report.splitlines() if "\t" in line}
    assert f"from offset {at}\ttailed" in lines[str(logs / "tailed.log")]
    assert "past the end" in lines[str(logs / "shrunk.log")]
    assert "not tracked by Fluent Bit" in lines[str(logs / "untracked.log")]
    assert "gone" in lines[str(gone)]
    assert f"from offset {moved_at}\trotated: finished first" in lines[str(logs / "moved.log.1")]
    assert report.splitlines()[-1] == "2 file(s) imported, 3 skipped"
    assert fingerprint(fluent_bit.database, Path(f"{fluent_bit.database}-wal")) == before
    view = sqlite3.connect(tmp_path / "data" / "spool.db")
    stored = [FileCheckpoint.decode(value) for (value,) in view.execute("SELECT value FROM checkpoints")]
    assert sorted((c.path, c.offset) for c in stored) == [(str(logs / "moved.log.1"), moved_at),
                                                         (str(logs / "tailed.log"), at)]


def test_a_data_dir_with_checkpoints_of_those_files_is_refused_unless_forced_and_a_running_agent_blocks_it(
        tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("a\nb\n")
    fluent_bit = FluentBitTail(tmp_path / "flb.db")
    fluent_bit.read(logs / "app.log", upto=2)
    fluent_bit.stop()
    cfg = shipper_config(tmp_path, {"type": "file", "include": [str(logs / "*.log")]})
    command = ["import-offsets", "--config", str(cfg), "--fluent-bit-db", str(fluent_bit.database)]
    assert main(command) == 0

    assert main(command) == 1
    assert "already has checkpoints for 1 of these file(s)" in capsys.readouterr().err
    assert main([*command, "--force"]) == 0
    assert main([*command, "--init-container"]) == 0  # a restarted pod: imported already, nothing to do
    assert main(["import-offsets", "--config", str(cfg), "--fluent-bit-db", str(tmp_path / "none.db"),
                 "--init-container"]) == 0  # a node Fluent Bit never ran on
    assert main(["import-offsets", "--config", str(cfg), "--fluent-bit-db", str(tmp_path / "none.db")]) == 2
    lock = DataDirLock.acquire(tmp_path / "data")
    try:
        assert main([*command, "--force"]) == 75
    finally:
        lock.release()


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_a_file_that_is_not_fluent_bits_tail_database_is_a_clear_error(tmp_path, capsys, content):
    database = tmp_path / "flb.db"
    database.write_bytes(content)
    cfg = shipper_config(tmp_path, {"type": "file", "include": [str(tmp_path / "*.log")]})

    assert main(["import-offsets", "--config", str(cfg), "--fluent-bit-db", str(database)]) == 2

    assert "not Fluent Bit's tail database" in capsys.readouterr().err


def test_an_offset_just_after_cri_fragments_resumes_at_the_first_fragment_so_the_line_arrives_whole(tmp_path):
    pod = make_pod(tmp_path, "shop", "web-1")
    stamp = cri_time(time.time_ns())
    (pod / "0.log").write_text(f"{stamp} stdout F before\n{stamp} stdout P first half, \n"
                               f"{stamp} stdout P second half, \n")
    fluent_bit = FluentBitTail(tmp_path / "flb.db")
    link = next((tmp_path / "containers").iterdir())
    fluent_bit.read(link, messages=lambda text: [text.split(" ", 3)[3]] if " F " in text else [])
    fluent_bit.stop()
    with open(pod / "0.log", "a") as log:
        log.write(f"{stamp} stdout F end\n{stamp} stdout F after\n")
    cfg = shipper_config(tmp_path, {"type": "kubernetes_logs", "include": [str(tmp_path / "containers" / "*.log")]})
    assert main(["import-offsets", "--config", str(cfg), "--fluent-bit-db", str(fluent_bit.database)]) == 0

    with open(tmp_path / "out.jsonl", "wb") as stdout:
        agent = AgentProcess(cfg, stdout=stdout)
        agent.wait_until_running()
        wait_for(lambda: "after" in output_messages(tmp_path / "out.jsonl"), 30, "the last line")
        assert agent.terminate(20) == 0

    assert fluent_bit.shipped == ["before"]
    assert output_messages(tmp_path / "out.jsonl") == ["first half, second half, end", "after"]

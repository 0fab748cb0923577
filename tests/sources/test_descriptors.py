"""A source holds at most max_open_files descriptors; files idle at their end give theirs up (dormant)
and are reopened by identity where they were, so nothing is lost or read twice."""

from __future__ import annotations

import os
from pathlib import Path

from shipper.sources.files import descriptors, reader
from shipper.sources.files.config import FileOptions
from shipper.sources.files.reader import FileState
from shipper.sources.files.source import FileSource
from shipper.sources.files.table import nothing_unread
from tests.sources.harness import SourceHarness, until

QUICK = {"discover_interval": "20ms", "poll_interval": "10ms"}


def tailed(source: FileSource, path: Path):
    inode = os.stat(path).st_ino
    return next(t for identity, t in source.files.items() if identity.inode == inode)


async def test_a_file_idle_for_close_inactive_gives_its_descriptor_up_and_is_read_on_where_it_was(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("one\n")
    options = FileOptions.model_validate({"type": "file", "include": [str(log)], "close_inactive": "100ms", **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await until(lambda: harness.messages() == ["one"])
        await until(lambda: tailed(harness.source, log).state is FileState.DORMANT)
        assert harness.source.descriptors.open == 0

        with open(log, "a") as handle:
            handle.write("two\n")
        await until(lambda: harness.messages() == ["one", "two"])

    assert harness.messages() == ["one", "two"]


async def test_a_file_rotated_while_dormant_is_drained_from_where_it_was_and_then_its_successor_read(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("one\n")
    options = FileOptions.model_validate({"type": "file", "include": [str(log)], "close_inactive": "100ms", **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await until(lambda: harness.messages() == ["one"])
        await until(lambda: tailed(harness.source, log).state is FileState.DORMANT)

        with open(log, "a") as handle:
            handle.write("two\n")
        os.rename(log, tmp_path / "app.log.1")
        log.write_text("three\n")
        await until(lambda: len(harness.messages()) == 3)

    assert harness.messages() == ["one", "two", "three"]


async def test_with_more_busy_files_than_max_open_files_every_line_is_read_once_within_the_cap(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    expected = []
    for n in range(30):
        lines = [f"file {n} line {i}" for i in range(50)]
        (logs / f"{n}.log").write_text("".join(f"{line}\n" for line in lines))
        expected += lines
    options = FileOptions.model_validate({"type": "file", "include": [f"{logs}/*.log"], "max_open_files": 8,
                                          **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await until(lambda: len(harness.messages()) >= len(expected), timeout=10)
        for n in range(30):  # a second round: files dormant by now are reopened for it
            with open(logs / f"{n}.log", "a") as handle:
                handle.write(f"file {n} again\n")
            expected.append(f"file {n} again")
        await until(lambda: len(harness.messages()) >= len(expected), timeout=10)

    assert sorted(harness.messages()) == sorted(expected)
    assert harness.source.descriptors.most_open == 8


async def test_a_file_that_waited_for_a_descriptor_and_was_rotated_meanwhile_is_read_under_its_new_name(
        tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "ROTATE_WAIT", 0.3)
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(8):
        (logs / f"busy-{n}.log").write_text("busy\n")
    options = FileOptions.model_validate({"type": "file", "include": [f"{logs}/*.log"], "max_open_files": 8,
                                          **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await until(lambda: harness.messages() == ["busy"] * 8)
        for n in range(8):  # rotated files keep their descriptors until drained: none is free
            os.rename(logs / f"busy-{n}.log", logs / f"busy-{n}.log.1")
        late = logs / "late.log"
        late.write_text("waited\n")
        await until(lambda: any(w.path == str(late) for w in harness.source.descriptors.waiting.values()))
        os.rename(late, logs / "late.log.1")  # a rotated name: no scan lists it
        late.write_text("successor\n")
        await until(lambda: len(harness.messages()) == 10, timeout=5)

    assert harness.messages()[8:] == ["waited", "successor"]


async def test_a_file_deleted_with_unread_lines_keeps_its_descriptor_until_they_are_read(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(8):
        (logs / f"{n}.log").write_text(f"first {n}\n")
    options = FileOptions.model_validate({"type": "file", "include": [f"{logs}/*.log"], "max_open_files": 8,
                                          **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await until(lambda: len(harness.messages()) == 8)
        with open(logs / "0.log", "a") as handle:  # the last lines of a container, then its file deleted
            handle.write("last words\n")
        os.unlink(logs / "0.log")
        (logs / "new.log").write_text("newcomer\n")  # wants a descriptor: none is free
        await until(lambda: len(harness.messages()) == 10)

    assert sorted(harness.messages()[8:]) == ["last words", "newcomer"]


async def test_a_file_with_lines_since_its_last_read_or_deleted_may_not_give_its_descriptor_up(tmp_path):
    grown, deleted, quiet = (tmp_path / f"{name}.log" for name in ("grown", "deleted", "quiet"))
    for path in (grown, deleted, quiet):
        path.write_text("read\n")
    options = FileOptions.model_validate({"type": "file", "include": [f"{tmp_path}/*.log"], **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await until(lambda: len(harness.messages()) == 3)
        files = {path: tailed(harness.source, path) for path in (grown, deleted, quiet)}
        # no await from here on: the source cannot run a round (and read) before it decides
        with open(grown, "a") as handle:
            handle.write("unread\n")
        os.unlink(deleted)

        may_rest = {path.name: nothing_unread(t) for path, t in files.items()}

    assert may_rest == {"grown.log": False, "deleted.log": False, "quiet.log": True}


async def test_files_opened_when_a_descriptor_came_free_are_not_read_again_after_a_restart(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(30):
        (logs / f"{n}.log").write_text(f"line of {n}\n")
    options = FileOptions.model_validate({"type": "file", "include": [str(logs / "*.log")], "max_open_files": 8,
                                          "rescan_interval": "50ms", **QUICK})
    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await until(lambda: len(harness.messages()) == 30, timeout=10)
        scans = harness.source.scans
        await until(lambda: harness.source.scans >= scans + 3, timeout=10)  # scans after the last file opened

    async with SourceHarness(tmp_path, FileSource, "app", options) as restarted:
        await until(lambda: restarted.source.scans >= 3, timeout=10)

    assert sorted(restarted.messages()) == sorted(f"line of {n}" for n in range(30))  # each once


def test_running_out_holds_a_source_to_what_it_had_open_and_a_minute_later_it_tries_its_own_limit_again(
        monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(descriptors.time, "monotonic", lambda: now[0])
    held = descriptors.Descriptors(100)
    for _ in range(30):
        held.taken()
    try:
        held.lowered()
        assert (held.limit, held.free) == (30, False)
        now[0] += descriptors.TRY_AGAIN_AFTER - 1
        assert not held.free
        now[0] += 1
        assert (held.free, held.limit) == (True, 100)
    finally:
        for _ in range(30):
            held.given_back()

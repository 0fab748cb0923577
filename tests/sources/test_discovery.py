"""Discovery of odd paths: a directory or a FIFO where a log file should be is logged, counted,
skipped, and tried again later; rotated names are never read as new files."""

from __future__ import annotations

import asyncio
import os

import pytest
from prometheus_client import REGISTRY

from shipper.sources.files.config import FileOptions
from shipper.sources.files.discover import Stopped, discover
from shipper.sources.files.source import FileSource
from tests.sources.harness import SourceHarness, until


def skipped(reason: str, source_id: str) -> float:
    labels = {"component_kind": "source", "component_id": source_id, "component_type": "file", "stage": "discover",
              "error": reason}
    return REGISTRY.get_sample_value("shipper_errors_total", labels) or 0.0


async def test_a_directory_and_a_fifo_are_skipped_counted_once_and_retried_later(tmp_path, caplog):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "dir.log").mkdir()
    os.mkfifo(logs / "pipe.log")
    (logs / "good.log").write_text("fine\n")
    (logs / "good.log.1").write_text("rotated: never read\n")
    (logs / "good.log.2.gz").write_bytes(b"\x1f\x8b never read")
    options = FileOptions.model_validate({"type": "file", "include": [f"{logs}/*"],
                                          "discover_interval": "20ms", "poll_interval": "10ms"})

    async with SourceHarness(tmp_path, FileSource, "odd", options) as harness:
        await until(lambda: len(harness.messages()) == 1)
        await asyncio.sleep(0.1)  # several more scans: still one warning and one count each
        assert skipped("not_regular_file", "odd") == 2
        assert sum("skipping" in r.message for r in caplog.records) == 2

        (logs / "dir.log").rmdir()
        (logs / "dir.log").write_text("a file at last\n")
        await until(lambda: len(harness.messages()) == 2)

    assert harness.messages() == ["fine", "a file at last"]


async def test_other_tasks_get_the_event_loop_while_thousands_of_small_files_are_opened_and_read(tmp_path):
    # spool appends never wait, so without a turn for others the sinks and the API would stall until
    # every file was read (100,000 files: minutes)
    logs = tmp_path / "many"
    logs.mkdir()
    for i in range(3000):
        (logs / f"f{i}.log").write_text(f"line {i}\n")
    options = FileOptions.model_validate({"type": "file", "include": [f"{logs}/*.log"], "poll_interval": "10ms"})
    spooled_when_others_ran: list[int] = []

    async def another_task() -> None:
        while True:
            spooled_when_others_ran.append(harness.spool.events)
            await asyncio.sleep(0)

    async with SourceHarness(tmp_path, FileSource, "many", options) as harness:
        other = asyncio.create_task(another_task())
        await until(lambda: len(harness.messages()) == 3000, timeout=120)
        other.cancel()

    assert any(0 < spooled < 3000 for spooled in spooled_when_others_ran)


def test_a_double_star_glob_visits_each_directory_once_whatever_symlink_loops_lead_back(tmp_path):
    # Python's recursive glob follows every link: three links to the top took longer than any test allows
    top = tmp_path / "logs"
    (top / "team" / "app").mkdir(parents=True)
    (top / "team" / "app" / "a.log").write_text("a\n")
    (top / "b.log").write_text("b\n")
    for name in ("up1", "up2", "up3"):
        os.symlink(top, top / "team" / "app" / name)
    os.symlink(top / "team", top / "team" / "again")

    found = discover([f"{top}/**/*.log"], [])

    assert found == [str(top / "b.log"), str(top / "team" / "app" / "a.log")]


def test_a_walk_stops_as_soon_as_its_source_stops(tmp_path):
    for i in range(50):
        (tmp_path / f"d{i}").mkdir()

    with pytest.raises(Stopped):
        discover([f"{tmp_path}/**/*.log"], [], stopping=lambda: True)


async def test_the_event_loop_runs_and_stop_is_honoured_while_a_deep_tree_is_walked(tmp_path):
    deep = tmp_path / "tree"
    for i in range(300):
        (deep / f"branch{i % 30}" / f"leaf{i}").mkdir(parents=True)
    (deep / "branch0" / "x.log").write_text("found\n")
    options = FileOptions.model_validate({"type": "file", "include": [f"{deep}/**/*.log"], "poll_interval": "10ms"})
    ticks = 0

    async def another_task() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async with SourceHarness(tmp_path, FileSource, "deep", options) as harness:
        other = asyncio.create_task(another_task())
        await until(lambda: harness.messages() == ["found"], timeout=30)
        other.cancel()

    assert ticks > 0


async def test_an_include_pattern_matching_nothing_is_said_once_a_minute_not_at_every_scan(tmp_path, caplog):
    (tmp_path / "logs").mkdir()
    options = FileOptions.model_validate({"type": "file", "include": [f"{tmp_path}/nothing/*.log"],
                                          "discover_interval": "10ms", "poll_interval": "10ms"})

    async with SourceHarness(tmp_path, FileSource, "empty", options):
        await asyncio.sleep(0.3)  # about thirty scans

    said = [r for r in caplog.records if "matches no file" in r.getMessage()]
    assert len(said) == 1 and f"{tmp_path}/nothing/*.log" in said[0].getMessage()


async def test_a_file_quiet_long_enough_to_rest_still_has_every_new_line_read(tmp_path):
    log = tmp_path / "quiet.log"
    log.write_text("first\n")
    options = FileOptions.model_validate({"type": "file", "include": [str(log)],
                                          "discover_interval": "50ms", "poll_interval": "10ms"})

    async with SourceHarness(tmp_path, FileSource, "quiet", options) as harness:
        await until(lambda: harness.messages() == ["first"])
        await until(lambda: harness.source.table.resting)  # five quiet scan intervals: looked at once per interval
        with open(log, "a") as handle:
            handle.write("second\nthird\n")
        await until(lambda: harness.messages() == ["first", "second", "third"])
        assert not harness.source.table.resting  # growing again: looked at every poll interval

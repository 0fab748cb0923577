"""The journald source on real journal files written by systemd-journal-remote."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shipper.sources.journald.config import JournaldOptions
from shipper.sources.journald.reader import Journal
from shipper.sources.journald.source import JournaldSource
from tests.journal import T0_US, entry, write_journal
from tests.sources.harness import SourceHarness, until


def options(directory: Path, **overrides) -> JournaldOptions:
    return JournaldOptions.model_validate({"type": "journald", "directory": str(directory),
                                           "read_from": "beginning", **overrides})


def journald(tmp_path: Path, opts: JournaldOptions) -> SourceHarness:
    """The journald source on a real spool, for `async with`."""
    return SourceHarness(tmp_path, JournaldSource, "journal", opts)


async def test_entries_are_shipped_once_with_fields_mapped_multiline_and_binary_included(tmp_path):
    journal = tmp_path / "journal" / "system.journal"
    write_journal(journal, [entry(1, "plain"), entry(2, "line one\nline two", priority=3),
                            entry(3, b"bad \xff bytes", unit="containerd.service", identifier="containerd")])

    async with journald(tmp_path, options(journal.parent)) as harness:
        await until(lambda: len(harness.messages()) == 3)

    records = [record for _, record in harness.records()]
    assert [r[1] for r in records] == ["plain", "line one\nline two", "bad \ufffd bytes"]
    assert records[0][0] == (T0_US + 1) * 1000
    assert records[1][2] == {"_SYSTEMD_UNIT": "kubelet.service", "SYSLOG_IDENTIFIER": "kubelet", "_PID": 42,
                             "_HOSTNAME": "node-1", "_BOOT_ID": "0123456789abcdef0123456789abcdef", "severity": 3}
    assert records[2][2]["_SYSTEMD_UNIT"] == "containerd.service"


@pytest.mark.parametrize(("filters", "expected"), [
    ({"units": ["containerd.service"]}, ["containerd says"]),
    ({"identifiers": ["dockerd"]}, ["docker says"]),
    ({"units": ["containerd.service"], "identifiers": ["dockerd"]}, ["containerd says", "docker says"]),
    ({"max_priority": "warning"}, ["kubelet warns", "docker says"]),
    ({"matches": {"_PID": ["42"], "SYSLOG_IDENTIFIER": ["kubelet"]}}, ["kubelet info", "kubelet warns"]),
])
async def test_filters_keep_only_the_entries_asked_for(tmp_path, filters, expected):
    journal = tmp_path / "journal" / "system.journal"
    write_journal(journal, [
        entry(1, "kubelet info"), entry(2, "kubelet warns", priority=4),
        entry(3, "containerd says", unit="containerd.service", identifier="containerd"),
        entry(4, "docker says", unit="docker.service", identifier="dockerd", priority=2),
    ])

    async with journald(tmp_path, options(journal.parent, **filters)) as harness:
        await until(lambda: harness.source.spool.checkpoints("journal") != {})
        await asyncio.sleep(0.1)

    assert harness.messages() == expected


async def test_appends_are_picked_up_within_a_second_and_a_restart_resumes_after_the_cursor(tmp_path):
    journal = tmp_path / "journal" / "system.journal"
    write_journal(journal, [entry(i, f"first {i}") for i in range(100)])

    async with journald(tmp_path, options(journal.parent)) as harness:
        await until(lambda: len(harness.messages()) == 100)
        write_journal(journal, [entry(100 + i, f"appended {i}") for i in range(50)])
        await until(lambda: len(harness.messages()) == 150)
    write_journal(journal, [entry(150 + i, f"while stopped {i}") for i in range(50)])
    async with journald(tmp_path, options(journal.parent)) as harness:
        await until(lambda: len(harness.messages()) >= 200)
        await asyncio.sleep(0.2)

    assert harness.messages() == ([f"first {i}" for i in range(100)] + [f"appended {i}" for i in range(50)]
                                  + [f"while stopped {i}" for i in range(50)])


async def test_rotation_while_reading_loses_nothing(tmp_path):
    directory = tmp_path / "journal"
    write_journal(directory / "system.journal", [entry(i, f"before {i}") for i in range(3000)])

    async with journald(tmp_path, options(directory, batch_size=100)) as harness:
        await until(lambda: len(harness.messages()) >= 100)
        os.rename(directory / "system.journal", directory / "system@0000000000000001-0000000000000001.journal~")
        write_journal(directory / "system.journal", [entry(3000 + i, f"after {i}") for i in range(1000)])
        await until(lambda: len(harness.messages()) == 4000, timeout=10)

    assert harness.messages() == [f"before {i}" for i in range(3000)] + [f"after {i}" for i in range(1000)]


async def test_a_vacuumed_cursor_is_reported_and_reading_resumes_at_the_oldest_entry(tmp_path, caplog):
    directory = tmp_path / "journal"
    write_journal(directory / "old.journal", [entry(i, f"old {i}") for i in range(10)])
    async with journald(tmp_path, options(directory)) as harness:
        await until(lambda: len(harness.messages()) == 10)
    (directory / "old.journal").unlink()  # vacuumed while the agent was stopped
    write_journal(directory / "new.journal", [entry(100 + i, f"new {i}", _BOOT_ID="ab" * 16) for i in range(5)])

    async with journald(tmp_path, options(directory)) as harness:
        await until(lambda: len(harness.messages()) == 15)

    assert "cursor of journal is gone" in caplog.text
    assert harness.messages()[10:] == [f"new {i}" for i in range(5)]


def test_a_journald_source_without_systemd_python_is_a_config_error_naming_the_fix(tmp_path):
    config = tmp_path / "shipper.yaml"
    config.write_text(f"data_dir: {tmp_path}\nsources:\n  journal: {{type: journald}}\n"
                      "sinks:\n  out: {type: console, inputs: [journal]}\n")
    hide = "import sys; sys.modules['systemd'] = None; from shipper.cli import main; sys.exit(main())"

    result = subprocess.run([sys.executable, "-c", hide, "check", "--config", str(config)],
                            capture_output=True, text=True, cwd=Path(__file__).parents[2])

    assert result.returncode == 2
    assert "sources.journal" in result.stderr and "pip install 'shipper-agent[journald]'" in result.stderr


async def test_read_from_end_skips_what_was_there_at_the_first_start_and_commits_that_place(tmp_path):
    journal = tmp_path / "journal" / "system.journal"
    write_journal(journal, [entry(i, f"old {i}") for i in range(20)])

    async with journald(tmp_path, options(journal.parent, read_from="end")) as harness:
        await until(lambda: harness.source.spool.checkpoints("journal") != {})  # positioned at the end
        write_journal(journal, [entry(20 + i, f"new {i}") for i in range(5)])
        await until(lambda: len(harness.messages()) == 5)

    assert harness.messages() == [f"new {i}" for i in range(5)]


def test_closing_the_reference_journal_from_another_thread_waits_for_a_wait_in_progress(tmp_path):
    # the source closes its journal after a cancellation while a worker thread may still be in wait()
    journal_file = tmp_path / "journal" / "system.journal"
    write_journal(journal_file, [entry(1, "one")])
    journal = Journal(options(journal_file.parent, read_from="end"))
    journal.seek(None)
    journal.wait(0)  # the first wait reports the files it opened at once
    waiting = threading.Event()
    thread = threading.Thread(target=lambda: (waiting.set(), journal.wait(1.0)))
    thread.start()
    waiting.wait()
    time.sleep(0.2)  # into systemd's wait: there is no condition to await from here
    asked = time.monotonic()
    journal.close()

    assert time.monotonic() - asked > 0.5  # it waited for the wait's second to pass
    thread.join()

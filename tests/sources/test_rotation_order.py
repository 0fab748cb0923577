"""A path's lines leave in the order they were written, across a rotation: the file rotated away is
read to its end before the new file at the same path."""

from __future__ import annotations

from shipper.sources.files.config import FileOptions
from shipper.sources.files.source import FileSource
from tests.sources.harness import SourceHarness, until


def options(logs) -> FileOptions:
    return FileOptions.model_validate({"type": "file", "include": [f"{logs}/*.log"], "read_block_size": "4KiB",
                                       "max_line_size": "1KiB", "discover_interval": "20ms",
                                       "poll_interval": "10ms"})


def rotate_with_lines_unread(app) -> None:
    """Lines 1-2999 go to the file, which is then renamed (many read blocks of it still unread), and
    lines 3000-5999 to a new file at its path."""
    with open(app, "a") as old:
        old.writelines(f"line {i:05d}\n" for i in range(1, 3000))
    app.rename(app.with_name("app.log.1"))
    app.write_text("".join(f"line {i:05d}\n" for i in range(3000, 6000)))


async def test_a_file_rotated_while_stopped_is_read_to_its_end_before_the_new_file(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text("line 00000\n")
    async with SourceHarness(tmp_path, FileSource, "app", options(logs)) as harness:
        await until(lambda: harness.messages() == ["line 00000"])
    rotate_with_lines_unread(app)

    async with SourceHarness(tmp_path, FileSource, "app", options(logs)) as harness:
        await until(lambda: len(harness.messages()) == 6000, timeout=10)

    assert harness.messages() == [f"line {i:05d}" for i in range(6000)]


async def test_a_file_rotated_while_the_source_lags_is_read_to_its_end_before_the_new_file(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text("line 00000\n")
    async with SourceHarness(tmp_path, FileSource, "app", options(logs)) as harness:
        await until(lambda: harness.messages() == ["line 00000"])
        rotate_with_lines_unread(app)
        await until(lambda: len(harness.messages()) == 6000, timeout=10)

    assert harness.messages() == [f"line {i:05d}" for i in range(6000)]


async def test_a_file_rotated_while_stopped_is_read_before_a_newer_file_rotated_away_while_it_drains(tmp_path):
    # the agent restarts with a rotated file to finish; the file then current is rotated away too
    # before the first is drained: three files of one path, to be shipped oldest first
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text("line 000000\n")
    async with SourceHarness(tmp_path, FileSource, "app", options(logs)) as harness:
        await until(lambda: harness.messages() == ["line 000000"])
    with open(app, "a") as old:
        old.writelines(f"line {i:06d}\n" for i in range(1, 200_000))  # hundreds of 4 KiB reads
    app.rename(logs / "app.log.1")
    app.write_text("".join(f"line {i:06d}\n" for i in range(200_000, 201_000)))

    async with SourceHarness(tmp_path, FileSource, "app", options(logs)) as harness:
        await until(lambda: len(harness.messages()) > 1)  # the oldest file is being drained
        app.rename(logs / "app.log.2")
        app.write_text("".join(f"line {i:06d}\n" for i in range(201_000, 202_000)))
        await until(lambda: len(harness.messages()) == 202_000, timeout=60)

    assert harness.messages() == [f"line {i:06d}" for i in range(202_000)]

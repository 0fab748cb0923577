"""Discovery of odd paths: a directory or a FIFO where a log file should be is logged, counted,
skipped, and tried again later; rotated names are never read as new files."""

from __future__ import annotations

import asyncio
import os

from prometheus_client import REGISTRY

from shipper.config.model import FileSource as FileOptions
from shipper.sources.files.source import FileSource
from tests.sources.harness import SourceHarness, until


def skipped(reason: str, source_id: str) -> float:
    labels = {"component_id": source_id, "component_type": "file", "stage": "discover", "error": reason}
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

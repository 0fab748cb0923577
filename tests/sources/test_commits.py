"""Reads of many small files share spool transactions; each file's checkpoint still commits with
the records read before it, so what a crash leaves in the spool is always consistent."""

from __future__ import annotations

import os

from shipper.sources.files.checkpoint import FileCheckpoint
from shipper.sources.files.config import FileOptions
from shipper.sources.files.source import FileSource
from tests.sources.harness import SourceHarness, until

QUICK = {"discover_interval": "20ms", "poll_interval": "10ms"}


class CountingAppends:
    """The real spool's append, counted (one call is one transaction)."""

    def __init__(self, spool):
        self.calls = 0
        self._append = spool.append
        spool.append = self

    async def __call__(self, *args, **kwargs):
        self.calls += 1
        return await self._append(*args, **kwargs)


async def test_reads_of_many_small_files_share_a_few_spool_transactions(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(300):
        (logs / f"{n}.log").write_text(f"line of {n}\n")
    options = FileOptions.model_validate({"type": "file", "include": [str(logs / "*.log")], **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        appends = CountingAppends(harness.spool)
        await until(lambda: len(harness.messages()) == 300, timeout=10)
        transactions = appends.calls
        checkpoints = harness.spool.checkpoints("app")

    assert sorted(harness.messages()) == sorted(f"line of {n}" for n in range(300))
    assert transactions <= 5
    offsets = {key: FileCheckpoint.decode(value).offset for key, value in checkpoints.items()}
    for n in range(300):
        status = os.stat(logs / f"{n}.log")
        assert offsets[f"{status.st_dev}:{status.st_ino}"] == status.st_size


async def test_a_large_read_is_committed_without_waiting_for_the_round_to_end(tmp_path):
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {n:06d} {'x' * 100}\n" for n in range(20_000)))  # ~2.2 MB
    options = FileOptions.model_validate({"type": "file", "include": [str(log)], "read_block_size": "256KiB",
                                          **QUICK})

    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        appends = CountingAppends(harness.spool)
        await until(lambda: len(harness.messages()) == 20_000, timeout=10)
        transactions = appends.calls

    assert transactions >= 8  # a transaction per block of 256 KiB, as ever

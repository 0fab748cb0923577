"""inotify wakes discovery: new and rotated-in files are opened at once, not at the next scan."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from shipper.buffer.spool import Spool
from shipper.config.model import FileSource as FileOptions
from shipper.config.model import KubernetesLogsSource as KubernetesLogsOptions
from shipper.sources.files.source import FileSource
from shipper.sources.files.watcher import directories_of
from shipper.sources.kubernetes_logs.source import KubernetesLogsSource
from tests.agent_process import spooled_messages
from tests.node import make_pod

SCAN_EVERY = "30s"  # far longer than the tests wait: only inotify can make them pass


async def until(condition, timeout: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within 1 s"
        await asyncio.sleep(0.01)


def tailing(source: FileSource, path: Path) -> bool:
    inode = os.stat(path).st_ino
    return any(identity.inode == inode for identity in source.files)


@pytest.fixture
def spool(tmp_path):
    spool = Spool.open(tmp_path / "data", 64 * 1024 * 1024)
    spool.attach_sinks({"model": ["app"]})
    yield spool
    spool.close()


async def run_source(source: FileSource):
    task = asyncio.create_task(source.run())
    await asyncio.sleep(0.05)  # the first scan
    return task


async def test_a_new_file_is_opened_within_a_second_and_read_even_if_rotated_right_after(tmp_path, spool):
    logs = tmp_path / "logs"
    logs.mkdir()
    options = FileOptions.model_validate({"type": "file", "include": [f"{logs}/*.log"],
                                          "discover_interval": SCAN_EVERY, "poll_interval": "10ms"})
    source = FileSource("app", options, spool, "host")
    task = await run_source(source)

    (logs / "new.log").write_text("one\ntwo\n")
    await until(lambda: tailing(source, logs / "new.log"))
    os.rename(logs / "new.log", logs / "new.log.1")
    (logs / "new.log.1").open("a").write("three\n")
    await until(lambda: len(spooled_messages(tmp_path / "data")) == 3)

    source.stop()
    await task
    assert [message for _, message in spooled_messages(tmp_path / "data")] == ["one", "two", "three"]


async def test_kubelet_rotation_behind_a_container_link_is_followed_at_once(tmp_path, spool):
    pod_dir = make_pod(tmp_path, "default", "web")
    options = KubernetesLogsOptions.model_validate({"type": "kubernetes_logs",
                                                    "include": [f"{tmp_path}/containers/*.log"],
                                                    "discover_interval": SCAN_EVERY, "poll_interval": "10ms"})
    source = KubernetesLogsSource("app", options, spool, "host")
    task = await run_source(source)
    assert str(pod_dir) in directories_of(options.include, source.files_paths())

    os.rename(pod_dir / "0.log", pod_dir / "0.log.20261122-101500")
    (pod_dir / "0.log").write_text("2026-11-22T10:15:00.000000000Z stdout F after rotation\n")
    await until(lambda: tailing(source, pod_dir / "0.log"))
    await until(lambda: len(spooled_messages(tmp_path / "data")) == 1)

    source.stop()
    await task
    assert spooled_messages(tmp_path / "data")[0][1] == "after rotation"

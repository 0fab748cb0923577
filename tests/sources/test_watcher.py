"""inotify wakes discovery: new and rotated-in files are opened at once, not at the next scan."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from shipper.sources.files.config import FileOptions
from shipper.sources.files.source import FileSource
from shipper.sources.files.watcher import DirectoryWatcher, directories_of
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions
from shipper.sources.kubernetes_logs.source import KubernetesLogsSource
from tests.node import make_pod
from tests.sources.harness import SourceHarness, until

SCAN_EVERY = "30s"  # far longer than the tests wait: only inotify can make them pass
FIRST_SCAN = 0.05  # seconds for the scan at start; what appears after it only inotify can report


def tailing(source: FileSource, path: Path) -> bool:
    inode = os.stat(path).st_ino
    return any(identity.inode == inode for identity in source.files)


async def test_a_new_file_is_opened_within_a_second_and_read_even_if_rotated_right_after(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    options = FileOptions.model_validate({"type": "file", "include": [f"{logs}/*.log"],
                                          "discover_interval": SCAN_EVERY, "poll_interval": "10ms"})
    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await asyncio.sleep(FIRST_SCAN)

        (logs / "new.log").write_text("one\ntwo\n")
        await until(lambda: tailing(harness.source, logs / "new.log"))
        os.rename(logs / "new.log", logs / "new.log.1")
        (logs / "new.log.1").open("a").write("three\n")
        await until(lambda: len(harness.messages()) == 3)

    assert harness.messages() == ["one", "two", "three"]


async def test_kubelet_rotation_behind_a_container_link_is_followed_at_once(tmp_path):
    pod_dir = make_pod(tmp_path, "default", "web")
    options = KubernetesLogsOptions.model_validate({"type": "kubernetes_logs",
                                                    "include": [f"{tmp_path}/containers/*.log"],
                                                    "discover_interval": SCAN_EVERY, "poll_interval": "10ms"})
    async with SourceHarness(tmp_path, KubernetesLogsSource, "app", options) as harness:
        await asyncio.sleep(FIRST_SCAN)
        assert str(pod_dir) in directories_of(options.include, harness.source.file_directories())

        os.rename(pod_dir / "0.log", pod_dir / "0.log.20261122-101500")
        (pod_dir / "0.log").write_text("2026-11-22T10:15:00.000000000Z stdout F after rotation\n")
        await until(lambda: tailing(harness.source, pod_dir / "0.log"))
        await until(lambda: len(harness.messages()) == 1)

    assert harness.messages() == ["after rotation"]


async def test_a_new_pod_directory_and_its_file_are_found_by_inotify_alone(tmp_path):
    (tmp_path / "pods").mkdir()
    options = FileOptions.model_validate({"type": "file", "include": [f"{tmp_path}/pods/*/*/*.log"],
                                          "discover_interval": SCAN_EVERY, "poll_interval": "10ms"})
    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await asyncio.sleep(FIRST_SCAN)

        container = tmp_path / "pods" / "default_web_1234" / "app"
        container.mkdir(parents=True)
        (container / "0.log").write_text("hello\n")
        await until(lambda: harness.messages() == ["hello"])


async def test_a_directory_missing_at_start_is_searched_at_the_discover_interval_not_the_rescan_interval(tmp_path):
    options = FileOptions.model_validate({"type": "file", "include": [f"{tmp_path}/later/*.log"],
                                          "discover_interval": "50ms", "rescan_interval": SCAN_EVERY,
                                          "poll_interval": "10ms"})
    async with SourceHarness(tmp_path, FileSource, "app", options) as harness:
        await asyncio.sleep(FIRST_SCAN)

        (tmp_path / "later").mkdir()  # nothing watched could tell of it: only a scan finds it
        (tmp_path / "later" / "app.log").write_text("found\n")
        await until(lambda: harness.messages() == ["found"])


async def test_the_watcher_is_complete_only_while_every_directory_is_watched(tmp_path, caplog):
    failures = []
    watcher = DirectoryWatcher(lambda: None, lambda: failures.append(1))
    try:
        first, again = watcher.watch({str(tmp_path)}), watcher.watch({str(tmp_path)})
        assert (first, again, watcher.complete) == (True, False, True)

        for _ in range(3):  # a directory that cannot be watched is counted and said once, not at every scan
            watcher.watch({str(tmp_path), str(tmp_path / "missing")})
        assert not watcher.complete
        assert len(failures) == 1 and caplog.text.count("relying on the periodic scan") == 1

        watcher.watch({str(tmp_path)}, bases_found=False)
        assert not watcher.complete
    finally:
        await watcher.close()

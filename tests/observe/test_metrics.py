"""Per-file read progress: every file on a usual node, the files furthest behind on a huge one."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from shipper import __version__
from shipper.observe.metrics import TailedFiles

SOURCE = {"component_kind": "source", "component_id": "pods", "component_type": "kubernetes_logs"}


def registry_with(collector: TailedFiles) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def per_file(registry: CollectorRegistry, name: str, path: str) -> float | None:
    return registry.get_sample_value(name, {**SOURCE, "file": path})


def test_every_file_has_its_offset_and_size_and_the_source_its_totals():
    files = TailedFiles()
    registry = registry_with(files)
    files.track("pods", "kubernetes_logs", lambda: [("/a.log", 100, 100, False), ("/b.log", 40, 100, True)])

    assert per_file(registry, "shipper_file_read_offset_bytes", "/a.log") == 100
    assert per_file(registry, "shipper_file_size_bytes", "/b.log") == 100
    assert registry.get_sample_value("shipper_files_open", SOURCE) == 1  # /a.log is dormant: no descriptor
    assert registry.get_sample_value("shipper_files_followed", SOURCE) == 2
    assert registry.get_sample_value("shipper_files_unread_bytes", SOURCE) == 60


def test_with_very_many_files_only_those_furthest_behind_have_series_and_the_totals_count_all():
    files = TailedFiles(limit=2)
    registry = registry_with(files)
    progress = [(f"/{lag}.log", 1000 - lag, 1000, True) for lag in (0, 300, 10, 700, 5)]
    files.track("pods", "kubernetes_logs", lambda: progress)

    named = {s.labels["file"] for m in registry.collect() if m.name == "shipper_file_read_offset_bytes"
             for s in m.samples}

    assert named == {"/700.log", "/300.log"}
    assert registry.get_sample_value("shipper_files_open", SOURCE) == 5
    assert registry.get_sample_value("shipper_files_unread_bytes", SOURCE) == 1015


def test_a_rotated_file_and_the_new_one_at_its_path_give_one_series_the_one_further_behind():
    files = TailedFiles()
    registry = registry_with(files)
    files.track("pods", "kubernetes_logs", lambda: [("/app/0.log", 10, 50, True), ("/app/0.log", 900, 1000, True)])

    samples = [s for m in registry.collect() if m.name == "shipper_file_size_bytes" for s in m.samples]

    assert [(s.labels["file"], s.value) for s in samples] == [("/app/0.log", 1000)]
    assert registry.get_sample_value("shipper_files_unread_bytes", SOURCE) == 140


def test_a_source_stopping_after_its_reloaded_replacement_started_leaves_the_replacement_reported():
    files = TailedFiles()
    registry = registry_with(files)

    def old():
        return [("/old.log", 1, 1, True)]

    def new():
        return [("/new.log", 2, 2, True)]

    files.track("pods", "kubernetes_logs", old)
    files.track("pods", "kubernetes_logs", new)

    files.untrack("pods", "kubernetes_logs", old)

    assert per_file(registry, "shipper_file_read_offset_bytes", "/new.log") == 2
    files.untrack("pods", "kubernetes_logs", new)
    assert registry.get_sample_value("shipper_files_open", SOURCE) is None


def test_the_agent_exposes_its_build_and_no_created_series():
    text = generate_latest(REGISTRY).decode()

    assert 'shipper_build_info{python="' in text and f'version="{__version__}"' in text
    assert "_created" not in text

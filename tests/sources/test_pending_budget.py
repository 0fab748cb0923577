"""Memory is bounded per source: incomplete records held over all files (CRI `P` fragments without
their `F`, restored carries) stay within `max_pending_bytes`; beyond it the oldest are shipped as
they stand and counted, never dropped, and a restart restores carries within the same budget."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions as Options
from shipper.sources.kubernetes_logs.source import KubernetesLogsSource
from tests.node import make_pod
from tests.sources.harness import SourceHarness, until

FILES = 100
FRAGMENT = 4096
KIB = 1024


def options(root: Path, budget: int) -> Options:
    return Options.model_validate({"type": "kubernetes_logs", "include": [f"{root}/containers/*.log"],
                                   "max_pending_bytes": budget, "poll_interval": "10ms"})


def flushed(source_id: str) -> float:
    labels = {"component_kind": "source", "component_id": source_id, "component_type": "kubernetes_logs",
              "kind": "pending_flushed"}
    return REGISTRY.get_sample_value("shipper_input_anomalies_total", labels) or 0.0


def write(pod_dir: Path, tag: str, text: str, second: int) -> None:
    with open(pod_dir / "0.log", "a") as log:
        log.write(f"2026-11-22T10:15:{second:02d}.000000000Z stdout {tag} {text}\n")


def pods_with_endless_partial_lines(root: Path) -> list[Path]:
    pods = []
    for i in range(FILES):
        pod_dir = make_pod(root, "ns", f"pod-{i}", uid=f"00000000-0000-0000-0000-{i:012d}")
        write(pod_dir, "P", f"{i:04d}" + "x" * (FRAGMENT - 4), 0)
        pods.append(pod_dir)
    return pods


async def test_partial_lines_of_many_files_stay_within_the_budget_and_the_oldest_are_shipped_as_they_stand(tmp_path):
    pods = pods_with_endless_partial_lines(tmp_path)
    budget = 64 * KIB

    async with SourceHarness(tmp_path, KubernetesLogsSource, "budget", options(tmp_path, budget)) as harness:
        await until(lambda: len(harness.source.files) == FILES and harness.source.table.pending_total > 0, timeout=30)
        await until(lambda: len(harness.messages()) >= FILES - budget // FRAGMENT, timeout=30)
        assert harness.source.table.pending_total <= budget
        for i, pod_dir in enumerate(pods):
            write(pod_dir, "F", f"end of {i:04d}", 1)
        await until(lambda: sum(map(_ends_a_line, harness.messages())) == FILES, timeout=30)

    fragments_shipped_alone = [m for m in harness.messages() if not _ends_a_line(m)]
    assert flushed("budget") == len(fragments_shipped_alone) >= FILES - budget // FRAGMENT
    assert _text_per_file(harness.messages()) == {i: f"{i:04d}" + "x" * (FRAGMENT - 4) + f"end of {i:04d}"
                                                  for i in range(FILES)}


async def test_a_restart_restores_carries_within_the_budget(tmp_path):
    pods_with_endless_partial_lines(tmp_path)
    async with SourceHarness(tmp_path, KubernetesLogsSource, "restore", options(tmp_path, 1024 * KIB)) as harness:
        await until(lambda: harness.source.table.pending_total == FILES * FRAGMENT, timeout=30)
    assert harness.messages() == []  # every fragment held, in the checkpoints' carries

    budget = 64 * KIB
    async with SourceHarness(tmp_path, KubernetesLogsSource, "restore", options(tmp_path, budget)) as restarted:
        await until(lambda: len(restarted.source.files) == FILES, timeout=30)
        await until(lambda: restarted.source.table.pending_total <= budget, timeout=30)

    assert len(restarted.messages()) >= FILES - budget // FRAGMENT
    assert all(m.endswith("x") for m in restarted.messages())


def _ends_a_line(message: str) -> bool:
    return "end of " in message


def _text_per_file(messages: list[str]) -> dict[int, str]:
    """Each file's text in shipping order: fragments shipped alone, then the rest with its end."""
    texts: dict[int, str] = {}
    for message in messages:
        i = int(message[:4]) if not message.startswith("end of") else int(message[-4:])
        texts[i] = texts.get(i, "") + message
    return texts

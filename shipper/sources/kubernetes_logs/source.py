"""The `kubernetes_logs` source: the file tailer, given what containers add (`containers.py`)."""

from __future__ import annotations

from shipper.buffer.spool import Spool
from shipper.sources.files.source import FileSource
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions
from shipper.sources.kubernetes_logs.containers import ContainerFiles
from shipper.sources.kubernetes_logs.metadata import PodCache


class KubernetesLogsSource(FileSource):
    options: KubernetesLogsOptions

    def __init__(self, source_id: str, options: KubernetesLogsOptions, spool: Spool, hostname: str):
        super().__init__(source_id, options, spool, hostname)
        self.containers = ContainerFiles(options, self.labels, self.log)
        self.kind = self.containers

    @property
    def pods(self) -> PodCache | None:
        """The API server's pods on this node (None without `api`)."""
        return self.containers.pods

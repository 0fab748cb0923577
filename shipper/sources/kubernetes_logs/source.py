"""The `kubernetes_logs` source: the file tailer with container formats and path metadata."""

from __future__ import annotations

from typing import Any

from shipper.config.model import KubernetesLogsSource as KubernetesLogsOptions
from shipper.sources.files.container_formats import ContainerDecoder
from shipper.sources.files.formats import Decoder
from shipper.sources.files.source import FileSource
from shipper.sources.kubernetes_logs.paths import metadata_from_path


class KubernetesLogsSource(FileSource):
    type = "kubernetes_logs"
    options: KubernetesLogsOptions

    def line_decoder(self) -> Decoder:
        return ContainerDecoder(self.options.max_line_size)

    def common_fields(self, path: str) -> dict[str, Any]:
        return {**super().common_fields(path), "kubernetes": metadata_from_path(path)}

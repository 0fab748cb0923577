"""What a kind of file source adds to tailing. The plain `file` source adds nothing; the container
source (`kubernetes_logs/containers.py`) filters files by pod, adds the pod's metadata and decodes
CRI and docker lines. The file source holds one (`FileSource.kind`) and calls it at these points
only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipper.record import Record
from shipper.sources.files.config import MultilineOptions
from shipper.sources.files.formats import Decoder
from shipper.sources.files.reader import TailedFile


class FileKind:
    async def start(self) -> None:
        """Before the first scan (the container source waits briefly for the first pod list)."""

    def stop(self) -> None:
        """After the last read."""

    def line_decoder(self, max_line: int) -> Decoder | None:
        """A fresh line decoder for one file; None: the source's own (plain or JSON lines)."""
        return None

    groups = False  # whether `multiline` may group the files of a source without `multiline` options

    def multiline(self, path: str, default: MultilineOptions | None) -> MultilineOptions | None:
        """How the file at `path` groups lines into records (`default`: the source's options)."""
        return default

    def records(self, tailed: TailedFile, records: list[Record]) -> list[Record]:
        """The records of `tailed` as they are stored (before the source's transforms)."""
        return records

    def wanted(self, path: str) -> bool:
        """Whether the file at `path` is to be read at all."""
        return True

    def fields(self, path: str) -> dict[str, Any]:
        """Fields of its own that every record of the file at `path` carries."""
        return {}

    def learned(self, tailed: TailedFile) -> bool:
        """Before a commit: whether there is more to say about `tailed` than when its fields were
        made (metadata that came later); the source then makes them again."""
        return False

    def committed(self, tailed: TailedFile, count: int) -> None:
        """`count` records of `tailed` are in the spool."""

    def finished(self, tailed: TailedFile, still_open: Iterable[TailedFile]) -> None:
        """`tailed` was read to its end and closed; `still_open` are the files the source still reads."""

"""Options of the `journald` source."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shipper.config.base import AGENT_FIELDS, FieldTree, SourceOptions, readable_file_problem
from shipper.severity import SEVERITIES
from shipper.sources.journald.fields import KEPT

INSTALL_HINT = ("the journald source needs systemd-python: install libsystemd-dev and pkg-config, "
                "then `pip install 'shipper-agent[journald]'`")


class JournaldOptions(SourceOptions):
    """The systemd journal: kubelet, containerd, docker and the rest of the node's system logs."""

    type: Literal["journald"]
    directory: str | None = Field(
        None, description="A journal directory to read (on a node: /var/log/journal); by default the local "
        "system journal.",
    )
    files: list[str] = Field(default_factory=list, description="Journal files to read instead of a directory.")
    units: list[str] = Field(default_factory=list, description="Only these `_SYSTEMD_UNIT`s (or the identifiers).")
    identifiers: list[str] = Field(default_factory=list, description="Only these `SYSLOG_IDENTIFIER`s (or the units).")
    max_priority: Literal[SEVERITIES] | int | None = Field(  # type: ignore[valid-type]
        None, description="Only entries at least this important: a name (`warning`) or 0-7."
    )
    matches: dict[str, list[str]] = Field(
        default_factory=dict, description="Other fields an entry must have, each one of the values listed."
    )
    keep_all_fields: bool = Field(False, description="Keep every journal field, not only the mapped ones.")
    read_from: Literal["beginning", "end"] = Field(
        "end", description="Where to start when there is no cursor yet (later starts resume after the cursor)."
    )
    batch_size: int = Field(2000, ge=1, le=100_000, description="Entries per spool transaction.")

    def fields(self) -> FieldTree | None:
        if self.keep_all_fields:
            return None
        return {**AGENT_FIELDS, "severity": {}, **{name: {} for name in KEPT}}

    @property
    def filtering(self) -> bool:
        """Whether entries are chosen (by unit, identifier, priority or field matches)."""
        return bool(self.units or self.identifiers or self.max_priority is not None or self.matches)

    def origin(self) -> str:
        return self.directory or ", ".join(self.files) or "the system journal"

    def environment_issues(self) -> list[tuple[str, str]]:
        issues = [(f"files[{i}]", problem) for i, path in enumerate(self.files)
                  if (problem := readable_file_problem(path))]
        if self.directory and not os.path.isdir(self.directory):
            issues.append(("directory", f"{self.directory} is not a directory"))
        return issues

    @field_validator("max_priority")
    @classmethod
    def _priority(cls, value: str | int | None) -> int | None:
        if isinstance(value, str):
            return SEVERITIES.index(value)
        if value is not None and not 0 <= value <= 7:
            raise ValueError(f"{value} is not a priority from 0 (emerg) to 7 (debug)")
        return value

    @model_validator(mode="after")
    def _installed(self) -> JournaldOptions:
        if self.directory and self.files:
            raise ValueError("give `directory` or `files`, not both")
        try:
            import systemd.journal  # noqa: F401 - only whether it is there
        except ImportError:
            raise ValueError(INSTALL_HINT) from None
        return self

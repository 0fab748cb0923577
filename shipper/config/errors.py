"""Configuration errors that name the key path, the reason and, where known, the line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        line = f" (line {self.line})" if self.line else ""
        return f"{where}{self.reason}{line}"


class ConfigError(Exception):
    """One or more problems in a configuration file; nothing has been started."""

    def __init__(self, source: str, issues: list[ConfigIssue], what: str = "configuration error(s)"):
        self.source = source
        self.issues = issues
        self.what = what
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.issues)} {self.what}"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)

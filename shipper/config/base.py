"""Base classes of every component's options: strict (unknown keys are errors) and immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def environment_issues(self) -> list[tuple[str, str]]:
        """(key, reason) for each thing the component will need from the machine and cannot have:
        a file to read, a region. No side effects; see config/preflight.py."""
        return []


class SinkOptions(Options):
    inputs: list[str] = Field(min_length=1, description="Ids of the sources whose records this sink takes.")


def readable_file_problem(path: str) -> str | None:
    """Why `path` cannot be read as a file, if it cannot."""
    try:
        with open(path, "rb") as file:
            file.read(1)
    except IsADirectoryError:
        return f"{path} is a directory, not a file"
    except OSError as error:
        return f"cannot read {path}: {error.strerror}"
    return None

"""Base classes of every component's options: strict (unknown keys are errors) and immutable."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shipper.layouts import LAYOUTS
from shipper.templates import Template

# options whose values may be credentials: never echoed in a configuration error
SECRET_OPTIONS = frozenset({"password", "token", "headers", "shared_key"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")  # no dot: `<route id>.<route name>` stays unambiguous


def check_names(names: Iterable[str], what: str) -> None:
    """Ids of components and names of route outputs: letters, digits, '_' and '-'."""
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a valid {what} (letters, digits, '_' and '-')")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def environment_issues(self) -> list[tuple[str, str]]:
        """(key, reason) for each thing the component will need from the machine and cannot have:
        a file to read, a region. No side effects; see config/preflight.py."""
        return []

    def environment_warnings(self) -> list[tuple[str, str]]:
        """(key, reason) for what is valid but looks unintended on this machine (an include glob that
        matches nothing); `check` says it, `run` leaves it to the component. No side effects."""
        return []


# The fields a source's records can carry, as a tree: {"kubernetes": {"namespace": {}}}; None below a
# name means anything may be there (parsed JSON, labels).
FieldTree = dict[str, "FieldTree | None"]
AGENT_FIELDS: FieldTree = {"host": {}, "source_type": {}, "message": {}, "timestamp": {}}


class SourceOptions(Options):
    type: str  # each kind narrows it to its own literal, which names it in the registry and in files

    def fields(self) -> FieldTree | None:
        """What this source's records can carry (None: anything); warns of template typos."""
        return None

    def origin(self) -> str:
        """Where its records come from, in a few words (`shipper check` prints it)."""
        return self.type

    def unauthenticated_clients(self) -> bool:
        """Whether clients nobody authenticated write its records' fields (`check` warns when a sink's
        destination template reads one of them)."""
        return False


INPUTS_DESCRIPTION = ("Ids of the sources or transforms whose records this takes (a route's outputs are "
                      "`<route id>.<route name>` and `<route id>._unmatched`).")


class TransformOptions(Options):
    type: str
    inputs: list[str] = Field(min_length=1, description=INPUTS_DESCRIPTION)

    def outputs(self) -> list[str]:
        """Names of its outputs after `<id>.`; empty when its output is the id alone."""
        return []

    def fields_from(self, inputs: FieldTree | None) -> FieldTree | None:
        """What its records can carry, given what its inputs' records carry (by default the same)."""
        return inputs

    def describe(self) -> str:
        """What it does, in a few words (`shipper check` prints it)."""
        return self.type


class SinkOptions(Options):
    type: str
    inputs: list[str] = Field(min_length=1, description=INPUTS_DESCRIPTION)
    layout: Literal[LAYOUTS] = Field(  # type: ignore[valid-type]
        "shipper", description="The names records are written with, and templates may use: `shipper` (ours, "
        "docs/records.md), `fluent_bit` (`log`, `kubernetes.namespace_name`... as Fluent Bit's kubernetes filter), "
        "`vector` (`kubernetes.pod_namespace`... as Vector's kubernetes_logs), `otel` (`body`, `attributes`, "
        "`resource` with `k8s.namespace.name`... as the OpenTelemetry Collector's CloudWatch exporter). Renamed "
        "when a record is encoded; the spool keeps one form.",
    )

    def templates(self) -> dict[str, Template]:
        """The sink's {field} templates by option name, to check against what its inputs produce."""
        return {}


def merge_trees(trees: list[FieldTree | None]) -> FieldTree | None:
    """What a record of any of `trees` can carry."""
    merged: FieldTree = {}
    for tree in trees:
        if tree is None:
            return None
        for key, below in tree.items():
            if key in merged:
                merged[key] = merge_trees([merged[key], below])
            else:
                merged[key] = below
    return merged


def produces(tree: FieldTree | None, path: tuple[str, ...]) -> bool:
    """Whether a record described by `tree` can hold a value at `path`."""
    for key in path:
        if tree is None:
            return True
        if key not in tree:
            return False
        tree = tree[key]
    return True


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

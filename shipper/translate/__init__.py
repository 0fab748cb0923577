"""`shipper translate --from fluent-bit|vector FILE`: another agent's pipeline as a shipper configuration.

fluent_bit.py and vector.py read the old configuration and build the new one (output.py), with a
comment at every construct they could not carry over; the result is then validated as `check` would
(environment references such as `${NODE_NAME}` are left for the agent to resolve).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from shipper.components import parse_config
from shipper.config.errors import ConfigError
from shipper.translate import fluent_bit, vector

AGENTS = ("fluent-bit", "vector")


class UnreadableConfiguration(Exception):
    """The file is not a configuration of the agent named."""


def translate(path: Path, agent: str) -> tuple[str, ConfigError | None]:
    """The shipper configuration for `path`, and what `check` finds wrong in it (None: nothing)."""
    try:
        if agent == "fluent-bit":
            pipeline = fluent_bit.translate(fluent_bit.read(path), str(path))
        else:
            pipeline = vector.translate(vector.read(path), str(path))
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError) as error:
        raise UnreadableConfiguration(f"{path}: not a {agent} configuration this can read ({error})") from None
    text = pipeline.render()
    try:
        parse_config(text, "the translation", AnyVariable())
    except ConfigError as error:
        return text, error
    return text, None


class AnyVariable(Mapping[str, str]):
    """An environment in which every variable is set: the translation's own shape is what is checked."""

    def __getitem__(self, key: str) -> str:
        return "set-at-run-time"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

"""Options of the `redact` transform."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from shipper.config.base import Options, TransformOptions
from shipper.config.units import Regex
from shipper.templates import field_path
from shipper.transforms.redact.patterns import BUILTINS, DEFAULT_BUILTINS


class CustomPattern(Options):
    name: str = Field(description="Names the pattern in `shipper_redactions_total{pattern}`.")
    regex: Regex = Field(description="What to replace; with a group named `secret`, only that group is replaced.")

    @field_validator("regex")
    @classmethod
    def _not_empty(cls, pattern: str) -> str:
        if re.compile(pattern).match(""):
            raise ValueError("matches the empty text: it would redact between every two characters")
        return pattern


class RedactOptions(TransformOptions):
    """Replaces secrets and personal data in string fields before records are stored. With no options it
    scrubs every built-in secret pattern from every string, nested ones and the source's metadata
    (labels, annotations) included."""

    type: Literal["redact"]
    builtins: list[Literal[tuple(BUILTINS)]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(DEFAULT_BUILTINS),
        description="Built-in patterns: `aws_access_key_id`, `aws_secret_access_key`, `bearer_token`, `jwt`, "
        "`secret_assignment` (password=..., api_key: ...), `email`, `credit_card` (Luhn-checked), and when "
        "listed, `ipv4` and `ipv6`. Default: all but the IP ones; `[]` for none.",
    )
    patterns: list[CustomPattern] = Field(default_factory=list, description="Regular expressions of your own.")
    replacement: str = Field("[REDACTED]", description="What each match is replaced with.")
    fields: list[str] | None = Field(
        None, description="Only these fields (e.g. `message`, `log.user`); default: every string field."
    )

    @field_validator("fields")
    @classmethod
    def _paths(cls, fields: list[str] | None) -> list[str] | None:
        for name in fields or ():
            if field_path(name) is None:
                raise ValueError(f"{name!r} is not a field path such as message or log.user")
        return fields

    def describe(self) -> str:
        names = [*self.builtins, *(p.name for p in self.patterns)]
        return f"redact: {', '.join(names) or 'nothing'}"

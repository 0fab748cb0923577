"""Options of the `redact` transform."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipper.config.base import Options, TransformOptions
from shipper.config.units import Regex
from shipper.regex import Regex as Compiled
from shipper.regex import compile_regex
from shipper.templates import field_path
from shipper.transforms.redact.patterns import BUILTINS, DEFAULT_BUILTINS
from shipper.transforms.redact.secret_keys import DEFAULT_NAMES


class CustomPattern(Options):
    name: str = Field(description="Names the pattern in `shipper_redactions_total{pattern}`.")
    regex: Regex = Field(description="What to replace; with a group named `secret`, only that group is replaced.")

    @field_validator("regex")
    @classmethod
    def _not_empty(cls, pattern: str) -> str:
        if compile_regex(pattern).match("") is not None:
            raise ValueError("matches the empty text: it would redact between every two characters")
        return pattern

    def compiled(self) -> Compiled:
        return compile_regex(self.regex)


class RedactOptions(TransformOptions):
    """Replaces secrets and personal data in string fields before records are stored. With no options it
    scrubs every built-in secret pattern from every string and key, nested ones and the source's metadata
    (labels, annotations) included, and replaces whole every value under a key that names a secret. It
    fails closed: what it cannot scan is replaced, never passed on."""

    type: Literal["redact"]
    builtins: list[Literal[tuple(BUILTINS)]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(DEFAULT_BUILTINS),
        description="Built-in patterns: `aws_access_key_id`, `aws_secret_access_key`, `bearer_token`, `jwt`, "
        "`basic_auth`, `uri_userinfo` (the password in `scheme://user:password@host`), `secret_assignment` "
        "(password=..., api_key: \"...\"), `email`, `credit_card` (Luhn-checked), and when listed, `ipv4` and "
        "`ipv6`. Default: all but the IP ones; `[]` for none. Grammars in docs/transforms.md.",
    )
    secret_keys: list[str] = Field(
        default_factory=list, description="More key names whose values are replaced whole, as parts of a key and "
        "whatever the case (`pin` takes `card_pin`), added to the defaults."
    )
    default_secret_keys: bool = Field(
        True, description="Whether values under the default secret names are replaced whole: "
        + ", ".join(f"`{name}`" for name in DEFAULT_NAMES) + " (as parts of a key: `db_password`, `X-Api-Key`). "
        "`false` with `secret_keys` replaces the list."
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

    def secret_key_names(self) -> list[str]:
        return [*(DEFAULT_NAMES if self.default_secret_keys else ()), *self.secret_keys]

    def describe(self) -> str:
        names = [*self.builtins, *(p.name for p in self.patterns)]
        return f"redact: {', '.join(names) or 'nothing'}"

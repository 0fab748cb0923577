"""Options of the `parse` transform."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from shipper.config.base import FieldTree, TransformOptions
from shipper.config.units import FieldPath, Regex
from shipper.record import RESERVED
from shipper.regex import compile_regex
from shipper.templates import field_path

FORMATS = ("json", "logfmt", "regex", "klog", "nginx_combined", "apache_combined", "syslog_rfc5424", "syslog_rfc3164")


class ParseOptions(TransformOptions):
    """Parses a field's text into fields. A record whose text is not in the format passes on unchanged and
    is counted (`shipper_events_unparsed_total`); it is never dropped."""

    type: Literal["parse"]
    format: Literal[FORMATS] = Field(  # type: ignore[valid-type]
        description="`json` (an object), `logfmt`, `regex` (with `pattern`), or one of our presets: `klog`, "
        "`nginx_combined`, `apache_combined`, `syslog_rfc5424`, `syslog_rfc3164` (fields in docs/transforms.md)."
    )
    pattern: Regex | None = Field(
        None, description="For `format: regex`: a regular expression whose named groups `(?P<name>...)` become "
        "fields (searched anywhere in the text: anchor it with `^`)."
    )
    field: FieldPath = Field("message", description="The field whose text is parsed.")
    target: str | None = Field(
        None, description="Put the parsed fields under this key; by default they are merged into the record's root "
        "(the record's `message` stays the whole line, and parsed names the agent reserves, such as `message`, "
        "`timestamp` or `kubernetes`, are kept under `log`)."
    )
    time_key: FieldPath | None = Field(
        None, description="A parsed field that holds the record's time (a path within the parsed fields, e.g. "
        "`time`); the read time stays when it is missing or not a time (counted as unparsed, reason `time`)."
    )
    time_format: str = Field(
        "rfc3339", description="How `time_key` is written: `rfc3339`, `epoch` (seconds), `epoch_ms`, or a strftime "
        "format such as `%d/%b/%Y:%H:%M:%S %z` (no zone in it means UTC)."
    )

    @field_validator("pattern")
    @classmethod
    def _has_a_named_group(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        if not compile_regex(pattern).groupindex:
            raise ValueError("has no named group (?P<name>...): it would parse no field")
        return pattern


    @field_validator("target")
    @classmethod
    def _not_reserved(cls, target: str | None) -> str | None:
        if target is not None and (target in RESERVED or field_path(target) != (target,)):
            raise ValueError(f"{target!r} cannot hold parsed fields: give a plain name the agent does not reserve "
                             f"(reserved: {', '.join(sorted(RESERVED))})")
        return target

    @model_validator(mode="after")
    def _pattern_with_regex(self) -> ParseOptions:
        if (self.format == "regex") != (self.pattern is not None):
            raise ValueError("'pattern' goes with format: regex, and format: regex needs 'pattern'")
        return self

    def fields_from(self, inputs: FieldTree | None) -> FieldTree | None:
        return None  # whatever the text holds

    def describe(self) -> str:
        return f"parse {self.format} of {self.field}" + (f" into {self.target}" if self.target else "")

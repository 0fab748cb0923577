"""Options of the `file` source, and of every tailing source (`TailOptions`, `MultilineOptions`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shipper.config.base import AGENT_FIELDS, FieldTree, Options, SourceOptions
from shipper.config.units import ByteSize, Duration, FieldPath, Regex
from shipper.record import RESERVED

LANGUAGES = ("java", "python", "go", "ruby", "node", "php", "dotnet")  # sources/files/exceptions.py: RULES
MAX_LINES = 1000


class MultilineOptions(Options):
    """Consecutive lines grouped into one record (stack traces); see `sources/files/multiline.py`."""

    mode: Literal["pattern", "exceptions"] = Field(
        description="`pattern`: a line `start_pattern` finds starts a record, any other line joins the one "
        "before it (the default when `start_pattern` is given). `exceptions`: the stack traces of `languages` are "
        "recognised and grouped, each into one record, with no pattern per application; other lines pass through "
        "at once."
    )
    start_pattern: Regex | None = Field(
        None, description="With `mode: pattern`: a regular expression; a line it matches (anywhere, use `^` to "
        "anchor) starts a new record, any other line joins the record before it. Example: `^\\d{4}-\\d{2}-\\d{2}` "
        "for lines that begin with a date."
    )
    languages: list[Literal[LANGUAGES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(LANGUAGES), min_length=1,
        description="With `mode: exceptions`: whose traces to recognise: "
        + ", ".join(f"`{name}`" for name in LANGUAGES) + " (all by default).",
    )
    max_lines: int = Field(
        MAX_LINES, ge=2, description="A group of this many lines is shipped; the next line starts anew."
    )
    max_bytes: ByteSize | None = Field(
        None, ge=1024, description="A group is shipped before it would grow past this many bytes (default: the "
        "source's `max_line_size`)."
    )
    timeout: Duration = Field(
        1.0, gt=0,
        description="A group whose stream has been quiet this long is shipped without waiting for the next line.",
    )

    @model_validator(mode="before")
    @classmethod
    def _pattern_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "mode" not in data:
            if "start_pattern" not in data:
                raise ValueError("give start_pattern (mode: pattern), or mode: exceptions")
            return {**data, "mode": "pattern"}
        return data

    @model_validator(mode="after")
    def _mode_with_its_options(self) -> MultilineOptions:
        if self.mode == "pattern" and self.start_pattern is None:
            raise ValueError("mode: pattern needs start_pattern")
        if self.mode == "exceptions" and self.start_pattern is not None:
            raise ValueError("start_pattern goes with mode: pattern; mode: exceptions takes languages")
        return self


class TailOptions(SourceOptions):
    """What every tailing source shares."""

    include: list[str] = Field(description="Glob patterns of the files to read.", min_length=1)
    exclude: list[str] = Field(default_factory=list, description="Glob patterns of files never to read.")
    read_from: Literal["beginning", "end"] = Field(
        "beginning", description="Where to start in a file that has no checkpoint yet."
    )
    max_line_size: ByteSize = Field(
        256 * 1024, ge=1024, description="Longer lines are split into pieces of this size (counted), never dropped."
    )
    max_pending_bytes: ByteSize = Field(
        16 * 1024 * 1024, ge=64 * 1024,
        description="Most bytes of incomplete records (CRI `P` fragments, docker partial lines, open multi-line "
        "groups) the source holds in memory over all its files; beyond it, the oldest are shipped as they stand "
        "(counted as `pending_flushed`), never dropped.",
    )
    read_block_size: ByteSize = Field(
        1024 * 1024, ge=4096, description="Bytes read from a file at a time. Small reads of several files share "
        "one spool transaction, up to this many bytes."
    )
    max_open_files: int | None = Field(
        None, ge=8, description="Most files the source holds open at once (default: half the agent's limit on open "
        "files, at most 8,192; with several file sources, give each its share). Beyond it, a file idle at its end "
        "gives its descriptor up to a file with unread lines, oldest unread lines first; the others wait "
        "(`shipper_files_waiting`). A rotated or deleted file keeps its descriptor until it is read to its end."
    )
    close_inactive: Duration = Field(
        300.0, gt=0, description="A file idle at its end this long gives its descriptor up even when no file waits "
        "for one; it is looked at by path and reopened, by identity, where it was when it changes."
    )
    discover_interval: Duration = Field(
        1.0, gt=0, description="How often the include globs are searched again while some directory they can match "
        "in is not watched by inotify (not available, or fs.inotify.max_user_watches reached)."
    )
    rescan_interval: Duration = Field(
        30.0, gt=0, description="While inotify watches every directory the globs can match in (a new, moved or "
        "deleted file there starts a search at once), how often they are searched anyway: a safety net for "
        "filesystems that send no events. Never less often than `discover_interval`."
    )
    poll_interval: Duration = Field(
        0.25, gt=0, description="How often open files are checked for new data; a file with nothing new for five "
        "discover intervals *rests*: it is checked once per discover interval until it grows again.",
    )
    multiline: MultilineOptions | None = Field(
        None, description="Group stack traces and other multi-line messages into one record (off by default)."
    )

    def origin(self) -> str:
        return ", ".join(self.include)

    def environment_warnings(self) -> list[tuple[str, str]]:
        from shipper.sources.files.discover import discover  # reads the file system: only when asked

        return [(f"include[{i}]", f"{pattern} matches no file (yet)")
                for i, pattern in enumerate(self.include) if not discover([pattern], [])]

    @field_validator("include", "exclude")
    @classmethod
    def _absolute(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not pattern.startswith("/"):
                raise ValueError(f"{pattern!r} is not an absolute path")
        return patterns


class FileOptions(TailOptions):
    type: Literal["file"]
    format: Literal["plain", "json"] = Field(
        "plain", description="`plain`: one record per line; `json`: one JSON object per line, parsed into fields."
    )
    reserved_key: str = Field(
        "log", min_length=1, description="With `json`: where a line's fields named like the agent's own (`host`, "
        "`file`, `source_type`, `kubernetes`, `journald`, `timestamp`, `message`) are kept, so a line cannot "
        "override the agent's metadata.",
    )

    time_key: FieldPath | None = Field(
        None, description="With `json`: the field of each line that holds its time (a path such as `time` or "
        "`meta.ts`), so backfilled files keep their own times; a line without it, or with a value that is not "
        "a time, keeps the read time (counted: `shipper_input_anomalies_total{kind=\"time_unparsed\"}`).",
    )
    time_format: str = Field(
        "rfc3339", description="How `time_key` is written: `rfc3339`, `epoch` (seconds), `epoch_ms`, or a strftime "
        "format such as `%d/%b/%Y:%H:%M:%S %z` (no zone means UTC; no year means the year that puts the time "
        "nearest to now, at most a day ahead).",
    )

    def fields(self) -> FieldTree | None:
        if self.format == "json":
            return None
        return {**AGENT_FIELDS, "file": {}}


    @model_validator(mode="after")
    def _time_with_json(self) -> FileOptions:
        if self.time_key is not None and self.format != "json":
            raise ValueError("'time_key' goes with format: json (a plain line has no fields to take a time from)")
        return self

    @field_validator("reserved_key")
    @classmethod
    def _not_reserved(cls, key: str) -> str:
        if key in RESERVED:
            raise ValueError(f"{key!r} is itself a reserved name")
        return key

"""What a pod's annotations choose for its own records, when the source honours them
(`honor_annotations: [parser, multiline]`):

- `shipper.io/parser: <format>`: each record's text parsed in that `parse` format (json, logfmt,
  klog, nginx_combined, apache_combined, syslog_rfc5424, syslog_rfc3164), as a `parse` transform
  with no target merges it: names the agent reserves set aside under `log`, the record's own fields
  winning. A record not in the format ships unchanged, counted (`shipper_events_unparsed_total`).
- `shipper.io/multiline: <languages | pattern>`: a comma-separated list of multiline languages
  (`java,python`) groups those stack traces (`mode: exceptions`); anything else is a `start_pattern`
  (`mode: pattern`). Timeout and bounds are the source's `multiline` options (or their defaults).

`shipper.io/parser-<container>` and `shipper.io/multiline-<container>` choose for one container and win
over the pod's. A value that names nothing is logged once per pod and ignored. What a pod chooses
shapes its own records only: it runs on its own files, and never reaches the agent's metadata (the
block's common fields) or the names it reserves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipper.parsers import PRESETS, Parser, merged
from shipper.record import FIELDS, MESSAGE, TIMESTAMP, Record
from shipper.regex import compile_regex
from shipper.sources.files.config import LANGUAGES, MultilineOptions

PARSER = "shipper.io/parser"
MULTILINE = "shipper.io/multiline"


@dataclass(frozen=True)
class Chosen:
    """What one container's pod chose: a parser and its format's name, multiline options."""

    format: str | None = None
    parser: Parser | None = None
    multiline: MultilineOptions | None = None


NOTHING = Chosen()


def annotation(annotations: dict[str, str], name: str, container: str) -> str | None:
    """The container's own value of an annotation, else the pod's."""
    own = annotations.get(f"{name}-{container}")
    return own if own is not None else annotations.get(name)


def chosen(annotations: dict[str, str], container: str, honored: frozenset[str], base: MultilineOptions | None,
           refused: list[tuple[str, str]]) -> Chosen:
    """What the annotations choose for `container`; a value that names nothing goes into `refused`
    (which annotation, `parser` or `multiline`, and why)."""
    fmt = parser = multiline = None
    value = annotation(annotations, PARSER, container) if "parser" in honored else None
    if value is not None:
        if value in PRESETS:
            fmt, parser = value, PRESETS[value]
        else:
            refused.append(("parser", f"{PARSER}: {value!r} is not a parse format ({', '.join(sorted(PRESETS))})"))
    value = annotation(annotations, MULTILINE, container) if "multiline" in honored else None
    if value is not None:
        multiline = multiline_options(value, base, refused)
    return Chosen(fmt, parser, multiline) if fmt or multiline else NOTHING


def multiline_options(value: str, base: MultilineOptions | None,
                      refused: list[tuple[str, str]]) -> MultilineOptions | None:
    """`java,python` as `mode: exceptions` with those languages; any other value as a start pattern."""
    bounds: dict[str, Any] = base.model_dump(include={"timeout", "max_lines", "max_bytes"}) if base else {}
    languages = [name.strip() for name in value.split(",")]
    if all(name in LANGUAGES for name in languages):
        return MultilineOptions.model_validate({**bounds, "mode": "exceptions", "languages": languages})
    try:
        compile_regex(value)
    except ValueError as error:
        refused.append(("multiline",
                        f"{MULTILINE}: {value!r} is neither languages ({', '.join(LANGUAGES)}) nor a pattern: {error}"))
        return None
    return MultilineOptions.model_validate({**bounds, "mode": "pattern", "start_pattern": value})


def parsed(parser: Parser, records: list[Record]) -> tuple[list[Record], int]:
    """Each record's text through `parser`, merged into its fields; and how many were not in the format."""
    out: list[Record] = []
    unparsed = 0
    for record in records:
        text = record[MESSAGE]
        fields = parser(text) if type(text) is str else None
        if fields is None:
            unparsed += 1
            out.append(record)
        else:
            out.append((record[TIMESTAMP], text, merged(fields, record[FIELDS])))
    return out, unparsed

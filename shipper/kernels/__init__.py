"""Compiled kernels: per-block work in C, each with its reference in Python.

A kernel takes a block (a list of lines, never one line a call) and gives exactly what its reference
gives: the reference stays the definition and the fallback, and tests prove the two equal on arbitrary
input (tests/kernels/). `pip install .` compiles them where a compiler and the Python headers are
(setup.py); without them the install succeeds on the reference path. `SHIPPER_PURE_PYTHON=1` forces
the reference path. `shipper --version` and the agent's start-up log say which are compiled.

Kernels:
- `_cri.whole_lines`: CRI lines with the runtime's usual UTC stamp and a whole record (`F`), into
  records (sources/files/container_formats.py: CriDecoder).
- `_syslog.frames`: a block's RFC 5424 frames, octet-counted or newline-framed, as one bytes object
  (sinks/syslog/encoder.py: Encoder's batch path).
- `_cloudwatch.events`: the PutLogEvents events of a block whose records are one event each, with
  their milliseconds and sizes (sinks/cloudwatch/batch.py: one_event_each).
- `_journal.Reader`: the journal through libsystemd, a block of entries into records in one call
  (sources/journald/reader.py: CompiledJournal; the reference is Journal with RecordMaker).
- `_parse.json_objects`, `_parse.combined_logs`, `_parse.logfmt_pairs`: `parse` json / nginx_combined /
  logfmt of a block's messages,
  each parsed record's fields as the JSON text the spool stores (transforms/parse/transform.py: Parse,
  when only the spool reads its output).
- `_ndjson.objects`: a block's records as JSON objects, the http, firehose and kinesis_streams sinks'
  lines (sinks/encoding.py: json_objects).
- `_otlp.log_records`: a block's records as OTLP LogRecords in protobuf, the opentelemetry sink's
  (sinks/opentelemetry/protobuf.py: log_records).
- `_forward.records`: a PackedForward stream's entries of the usual shape into records
  (sources/forward/records.py: packed_records; the reference is protocol.add_packed_entries, then
  records_of).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

PURE_PYTHON = os.environ.get("SHIPPER_PURE_PYTHON", "") not in ("", "0")


def _load(name: str) -> ModuleType | None:
    if PURE_PYTHON:
        return None
    try:
        return importlib.import_module(f"shipper.kernels.{name}")
    except ImportError:
        return None


cri = _load("_cri")
syslog = _load("_syslog")
cloudwatch = _load("_cloudwatch")
journal = _load("_journal")
parse = _load("_parse")
forward = _load("_forward")
ndjson = _load("_ndjson")
otlp = _load("_otlp")

COMPILED = {"cri": cri is not None, "syslog": syslog is not None, "cloudwatch": cloudwatch is not None,
            "journal": journal is not None, "parse": parse is not None,
            "forward": forward is not None, "ndjson": ndjson is not None, "otlp": otlp is not None}


def describe() -> str:
    """Which kernels run compiled, in one line (`shipper --version`, the start-up log)."""
    compiled = sorted(name for name, present in COMPILED.items() if present)
    if compiled:
        return "compiled kernels: " + ", ".join(compiled)
    reason = "SHIPPER_PURE_PYTHON is set" if PURE_PYTHON else "not built: no compiler at install"
    return f"compiled kernels: none ({reason}; the Python reference runs)"

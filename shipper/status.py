"""`shipper status`: what every source has read and what every sink still has to send, read from the
spool without disturbing a running agent (its read-only view), plus each sink's last
error from the agent's /readyz when the API is on."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipper.buffer.layout import SPOOL_FILE
from shipper.buffer.spool import SpoolView
from shipper.config.model import AgentConfig
from shipper.sources.files.checkpoint import FileCheckpoint
from shipper.sources.files.config import TailOptions
from shipper.sources.files.discover import discover
from shipper.sources.files.identity import FileIdentity

GREEN, YELLOW, RED, BOLD, RESET = "\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    colours: list[str]  # per row: the colour of its last column, "" for none

    def render(self, colour: bool) -> str:
        widths = [max(len(cell) for cell in column) for column in zip(self.header, *self.rows, strict=False)]
        def line(cells: list[str]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        out = [f"{BOLD}{self.title}{RESET}" if colour else self.title, line(self.header)]
        for row, tint in zip(self.rows, self.colours, strict=True):
            text = line(row)
            if colour and tint:
                head, last, tail = text.rpartition(row[-1])
                text = f"{head}{tint}{last}{RESET}{tail}"
            out.append(text)
        if not self.rows:
            out.append("(none)")
        return "\n".join(out)


def status(config: AgentConfig, colour: bool, as_json: bool = False) -> str:
    """The tables as text (coloured for a terminal), or as one JSON object: each table's title -> its
    rows as objects keyed by the column names."""
    view = SpoolView.open(config.data_dir)
    if view is None:
        missing = f"no spool at {Path(config.data_dir) / SPOOL_FILE}: the agent has not run with this data_dir yet"
        return json.dumps({"error": missing}) if as_json else missing
    try:
        tables = [_sources(view, config), _sinks(view, config)]
        parked = _parked(view)
        if parked.rows:
            tables.append(parked)
    finally:
        view.close()
    if as_json:
        return json.dumps({table.title: [dict(zip(table.header, row, strict=True)) for row in table.rows]
                           for table in tables})
    return "\n\n".join(table.render(colour) for table in tables)


def _sources(view: SpoolView, config: AgentConfig) -> Table:
    rows, colours = [], []
    for source_id, options in config.sources.items():
        for _key, value in sorted(view.checkpoints(source_id).items()):
            if not isinstance(options, TailOptions):  # the journal: an opaque cursor
                rows.append([source_id, options.type, "journal cursor", value.decode(errors="replace")[:48], "-", "-"])
                colours.append("")
                continue
            checkpoint = FileCheckpoint.decode(value)
            try:
                size: int | None = os.stat(checkpoint.path).st_size
            except OSError:
                size = None  # rotated away or deleted: the agent finishes it by descriptor
            lag = "gone" if size is None else _bytes(max(0, size - checkpoint.offset))
            rows.append([source_id, options.type, checkpoint.path, _bytes(checkpoint.offset),
                         "-" if size is None else _bytes(size), lag])
            colours.append(GREEN if size is not None and size <= checkpoint.offset else YELLOW)
        if isinstance(options, TailOptions):
            for path, size in _not_opened(options, set(view.checkpoints(source_id))):
                rows.append([source_id, options.type, path, "waiting", _bytes(size), _bytes(size)])
                colours.append(YELLOW)
    return Table("sources", ["source", "type", "file", "offset", "size", "lag"], rows, colours)


def _not_opened(options: TailOptions, checkpointed: set[str]) -> list[tuple[str, int]]:
    """Files the source's globs match that it has no checkpoint for: waiting for a descriptor (the
    source holds max_open_files open), or new since its last scan."""
    found = []
    for path in discover(options.include, options.exclude):
        try:
            status = os.stat(path)
        except OSError:
            continue
        if FileIdentity.of(status).key not in checkpointed:
            found.append((path, status.st_size))
    return found


def _sinks(view: SpoolView, config: AgentConfig) -> Table:
    readiness = _readiness(config)
    problems, errors = readiness.get("problems", {}), readiness.get("errors", {})
    rows, colours = [], []
    for sink_id, options in config.sinks.items():
        backlog = view.backlog(sink_id, options.inputs)
        age = "-" if backlog.oldest is None else f"{time.time() - backlog.oldest:.0f}s"
        problem, last = problems.get(sink_id), errors.get(sink_id)
        if problem is not None:
            error = f"NOT READY {problem.get('reason', '')}: {problem.get('message', '')}"
        elif last:
            ago = f", last {time.time() - last['at']:.0f}s ago" if last.get("at") else ""
            error = f"{last.get('kind')}: {last.get('message')} ({last.get('count')} error(s){ago})"
        else:
            error = "-"
        rows.append([sink_id, options.type, str(backlog.count), _bytes(backlog.bytes), age, error])
        colours.append(RED if problem is not None else (YELLOW if backlog.count or last else GREEN))
    return Table("sinks", ["sink", "type", "backlog", "bytes", "oldest", "last error"], rows, colours)


def _parked(view: SpoolView) -> Table:
    """Streams a sink parked (refused for now): their records wait aside in the spool."""
    rows = [[sink, name.replace("\t", "/"), str(summary.count), _bytes(summary.bytes),
             f"{time.time() - summary.since:.0f}s", summary.reason[:80]]
            for sink in view.parked_sinks() for name, summary in view.parked(sink).items()]
    return Table("parked streams", ["sink", "stream", "records", "bytes", "since", "reason"], rows, [RED] * len(rows))


def _readiness(config: AgentConfig) -> dict[str, dict[str, Any]]:
    """What the running agent reports on /readyz (`problems`, `errors`: each sink's last error, its
    time and count); {} without an API or a running agent."""
    if config.api is None:
        return {}
    try:
        with urllib.request.urlopen(config.api.local_url("/readyz"), timeout=2) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()  # 503: not ready, with the problems
    except OSError:
        return {}
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return {key: answer[key] for key in ("problems", "errors") if isinstance(answer, dict)
            and isinstance(answer.get(key), dict)}


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)

"""`shipper status`: what every source has read and what every sink still has to send, read from the
spool without disturbing a running agent (a read-only SQLite connection), plus each sink's last
error from the agent's /readyz when the API is on."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from shipper.buffer.spool import SPOOL_FILE
from shipper.config.model import AgentConfig

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


def status(config: AgentConfig, colour: bool) -> str:
    path = Path(config.data_dir) / SPOOL_FILE
    if not path.exists():
        return f"no spool at {path}: the agent has not run with this data_dir yet"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        tables = [_sources(db, config), _sinks(db, config)]
        parked = _parked(db)
        if parked.rows:
            tables.append(parked)
    finally:
        db.close()
    return "\n\n".join(table.render(colour) for table in tables)


def _sources(db: sqlite3.Connection, config: AgentConfig) -> Table:
    rows, colours = [], []
    for source_id, options in config.sources.items():
        for (value,) in db.execute("SELECT value FROM checkpoints WHERE source = ? ORDER BY key", (source_id,)):
            if options.type == "journald":
                rows.append([source_id, options.type, "journal cursor", value.decode()[:48], "-", "-"])
                colours.append("")
                continue
            checkpoint = json.loads(value)
            offset = checkpoint["offset"]
            try:
                size: int | None = os.stat(checkpoint["path"]).st_size
            except OSError:
                size = None  # rotated away or deleted: the agent finishes it by descriptor
            lag = "gone" if size is None else _bytes(max(0, size - offset))
            rows.append([source_id, options.type, checkpoint["path"], _bytes(offset),
                         "-" if size is None else _bytes(size), lag])
            colours.append(GREEN if size is not None and size <= offset else YELLOW)
    return Table("sources", ["source", "type", "file", "offset", "size", "lag"], rows, colours)


def _sinks(db: sqlite3.Connection, config: AgentConfig) -> Table:
    problems = _readiness(config)
    rows, colours = [], []
    cursors = dict((sink, block) for sink, block, _ in db.execute("SELECT sink, block, position FROM cursors"))
    for sink_id, options in config.sinks.items():
        after = cursors.get(sink_id, 0)
        marks = ",".join("?" * len(options.inputs))
        count, size, oldest = db.execute(
            f"SELECT COALESCE(SUM(count), 0), COALESCE(SUM(bytes), 0), MIN(created) FROM blocks "
            f"WHERE id >= ? AND source IN ({marks})", (after, *options.inputs)).fetchone()
        age = "-" if oldest is None else f"{time.time() - oldest:.0f}s"
        problem = problems.get(sink_id)
        error = "-" if problem is None else (problem.get("message") or problem.get("reason", "not ready"))
        rows.append([sink_id, options.type, str(count), _bytes(size), age, error])
        colours.append(RED if error != "-" else (YELLOW if count else GREEN))
    return Table("sinks", ["sink", "type", "backlog", "bytes", "oldest", "last error"], rows, colours)


def _parked(db: sqlite3.Connection) -> Table:
    """Streams a sink parked (refused for now): their records wait aside in the spool."""
    try:
        found = db.execute("SELECT sink, name, MIN(reason), SUM(count), SUM(bytes), MIN(created) FROM parked "
                           "GROUP BY sink, name ORDER BY sink, MIN(id)").fetchall()
    except sqlite3.OperationalError:  # a spool written before streams could be parked
        found = []
    rows = [[sink, name.replace("\t", "/"), str(count), _bytes(size), f"{time.time() - since:.0f}s", reason[:80]]
            for sink, name, reason, count, size, since in found]
    return Table("parked streams", ["sink", "stream", "records", "bytes", "since", "reason"], rows, [RED] * len(rows))


def _readiness(config: AgentConfig) -> dict[str, dict[str, str]]:
    """Problems the running agent reports on /readyz; {} without an API or a running agent."""
    if config.api is None:
        return {}
    host, _, port = config.api.address.rpartition(":")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=2) as response:
            return json.loads(response.read()).get("problems", {})
    except urllib.error.HTTPError as error:
        return json.loads(error.read()).get("problems", {})
    except (OSError, ValueError):
        return {}


def _bytes(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)

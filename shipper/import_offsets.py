"""`shipper import-offsets`: start where Fluent Bit's tail input stopped, neither losing what it had not
read nor shipping again what it had.

Fluent Bit keeps, per file it tails, the name, inode and byte offset in its tail database (SQLite,
table `in_tail_files`; its `DB` option). This reads that database from a copy (the file and its WAL:
opening a WAL database writes beside it, and the original must stay as Fluent Bit left it), matches
each row to a file that a `file` or `kubernetes_logs` source of the configuration reads, and writes
our checkpoint for it, so the first `shipper run` continues at that offset.

Matching, per row (the newest row per inode, as Fluent Bit reads its own table):
- a file the source reads with that inode, whose name is the row's or leads to the same file (Fluent
  Bit may have tailed kubelet's /var/log/containers links, we the files behind them): imported;
- else the inode in the directory of the row's name under another name (rotated since Fluent Bit
  last looked, or marked rotated by it): imported as a file rotated while stopped, which the source
  finishes first (recovery.py);
- an offset past the file's end (truncated, or an inode reused by a shorter file), a row whose name
  now leads to another file with no trace of its own inode nearby, or a file that no source reads:
  skipped, said with the reason.
An offset just after CRI `P` fragments or docker partial lines (Fluent Bit held the start of a long
line in memory when it stopped) moves back to the first fragment: that one record may arrive twice,
never in pieces. Files Fluent Bit did not track are read as the source's `read_from` says.

A data dir whose checkpoints already name a file to import is refused unless `--force`: an agent
that ran there has its own, better, offsets.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from shipper.buffer.data_dir import DataDirLock
from shipper.buffer.spool import Spool
from shipper.config.model import AgentConfig
from shipper.sources.files.checkpoint import FileCheckpoint
from shipper.sources.files.config import TailOptions
from shipper.sources.files.discover import discover
from shipper.sources.files.identity import FileIdentity, Fingerprint
from shipper.sources.files.recovery import regular_files
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions
from shipper.sources.kubernetes_logs.paths import metadata_from_path

FRAGMENT_LOOKBACK = 4 * 1024 * 1024  # bytes searched back for the first fragment of a line split by the runtime


class ImportProblem(Exception):
    """The database cannot be read as Fluent Bit's tail database."""


@dataclass(frozen=True)
class TrackedFile:
    """A row of Fluent Bit's `in_tail_files`."""

    name: str
    offset: int
    inode: int
    rotated: bool


@dataclass
class Outcome:
    source: str
    path: str
    offset: int | None  # where the source will start; None when skipped
    note: str


@dataclass
class Plan:
    checkpoints: dict[str, dict[str, bytes]] = field(default_factory=dict)  # source -> key -> checkpoint
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, source: str, identity: FileIdentity, checkpoint: FileCheckpoint, note: str) -> None:
        self.checkpoints.setdefault(source, {})[identity.key] = checkpoint.encode()
        self.outcomes.append(Outcome(source, checkpoint.path, checkpoint.offset, note))

    def skip(self, source: str, path: str, note: str) -> None:
        self.outcomes.append(Outcome(source, path, None, note))


def tracked_files(database: Path) -> list[TrackedFile]:
    """The rows of Fluent Bit's tail database, the newest per inode, read from a copy."""
    if not database.is_file():
        raise ImportProblem(f"{database}: no such file")
    with tempfile.TemporaryDirectory(prefix="shipper-import-") as directory:
        copy = Path(directory) / "fluent-bit.db"
        for suffix in ("", "-wal"):
            if Path(f"{database}{suffix}").exists():
                shutil.copyfile(f"{database}{suffix}", f"{copy}{suffix}")
        try:
            db = sqlite3.connect(copy)
            try:
                rows = db.execute("SELECT name, offset, inode, rotated FROM in_tail_files ORDER BY id").fetchall()
            finally:
                db.close()
        except sqlite3.DatabaseError as error:
            raise ImportProblem(f"{database} is not Fluent Bit's tail database (no table in_tail_files "
                                f"readable: {error})") from None
    newest: dict[int, TrackedFile] = {}
    for name, offset, inode, rotated in rows:
        if isinstance(name, str) and isinstance(offset, int) and isinstance(inode, int) and offset >= 0:
            newest[inode] = TrackedFile(name, offset, inode, bool(rotated))
    return list(newest.values())


def plan(config: AgentConfig, tracked: list[TrackedFile]) -> Plan:
    """What to write for each tracked file, by source; nothing is written."""
    result = Plan()
    by_inode = {row.inode: row for row in tracked}
    matched: set[int] = set()
    directories: dict[str, str] = {}  # a directory a source reads files in -> that source
    untracked: dict[str, tuple[str, os.stat_result, TailOptions]] = {}  # path -> source, status, options
    for source_id, options in config.sources.items():
        if not isinstance(options, TailOptions):
            continue
        for path in discover(options.include, options.exclude):
            if not _wanted(options, path):
                continue
            try:
                status = os.stat(path)
            except OSError:
                continue
            directories.setdefault(os.path.dirname(os.path.realpath(path)), source_id)
            row = by_inode.get(status.st_ino)
            if row is None or row.inode in matched or (row.name != path and not _same_file(row.name, status)):
                untracked.setdefault(path, (source_id, status, options))
                continue
            matched.add(row.inode)
            _import(result, source_id, path, path, status, row.offset, options)
    for row in tracked:
        if row.inode not in matched and _import_moved(result, row, directories, config) and not row.rotated:
            successor = untracked.pop(row.name, None)
            if successor is not None:  # a file that took the place of one rotated since: all of it is new
                source_id, status, options = successor
                _import(result, source_id, row.name, row.name, status, 0, options,
                        note="took the place of a file rotated after Fluent Bit's last look: from its start")
    for path, (source_id, _, options) in untracked.items():
        result.skip(source_id, path, f"not tracked by Fluent Bit: read from the {options.read_from} (read_from)")
    return result


def _import_moved(result: Plan, row: TrackedFile, directories: dict[str, str], config: AgentConfig) -> bool:
    """A row whose file is no longer at a name a source reads: found beside its name (rotated), or
    skipped; True when it was found."""
    directory = os.path.dirname(os.path.realpath(row.name))
    source_id = directories.get(directory)
    if source_id is None:
        result.skip("-", row.name, "no source of the configuration reads this directory")
        return False
    found = _by_inode(directory, row.inode)
    if found is None:
        result.skip(source_id, row.name, "gone (deleted or rotated away since Fluent Bit read it)")
        return False
    path, status = found
    options = config.sources[source_id]
    assert isinstance(options, TailOptions)  # only tailing sources have directories
    _import(result, source_id, row.name, path, status, row.offset, options, note="rotated: finished first")
    return True


def _import(result: Plan, source_id: str, name: str, path: str, status: os.stat_result, offset: int,
            options: TailOptions, note: str = "tailed") -> None:
    """The checkpoint for the file at `path` (named `name` in the checkpoint: where it was tailed)."""
    if offset > status.st_size:
        result.skip(source_id, path, f"Fluent Bit's offset {offset} is past the end ({status.st_size} bytes): "
                                     "truncated since, or another file on that inode")
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        result.skip(source_id, path, f"cannot be read: {error.strerror}")
        return
    try:
        if FileIdentity.of(os.fstat(fd)) != FileIdentity.of(status):
            result.skip(source_id, path, "replaced while importing")
            return
        start = _first_fragment(fd, offset) if isinstance(options, KubernetesLogsOptions) else offset
        fingerprint = Fingerprint.read(fd)
    finally:
        os.close(fd)
    if start != offset:
        note += f", moved back {offset - start} bytes to the first fragment of a split line"
    result.add(source_id, FileIdentity.of(status), FileCheckpoint(name, start, fingerprint), note)


def _first_fragment(fd: int, offset: int) -> int:
    """`offset`, or, when the lines just before it are fragments of one line (CRI `P`, docker json-file
    lines whose text does not end with a newline), where the first of them starts."""
    low = max(0, offset - FRAGMENT_LOOKBACK)
    data = os.pread(fd, offset - low, low)
    if not data.endswith(b"\n"):
        return offset
    start = offset
    for line_start, line in _lines_backwards(data, low):
        if not _is_fragment(line):
            break
        start = line_start
    return start


def _lines_backwards(data: bytes, base: int) -> Iterator[tuple[int, bytes]]:
    """(absolute start, line without its newline) of each whole line of `data`, last first."""
    end = len(data) - 1
    while end > 0:
        begin = data.rfind(b"\n", 0, end) + 1
        if begin == 0 and base > 0:
            return  # the first line may be cut by the look-back window
        yield base + begin, data[begin:end]
        end = begin - 1


def _is_fragment(line: bytes) -> bool:
    parts = line.split(b" ", 3)
    if len(parts) >= 3 and parts[1] in (b"stdout", b"stderr"):
        return parts[2] == b"P"  # CRI
    if line.startswith(b"{"):
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        return isinstance(entry, dict) and isinstance(entry.get("log"), str) and not entry["log"].endswith("\n")
    return False


def _wanted(options: TailOptions, path: str) -> bool:
    """What the source itself would read, as far as the path tells (namespaces of container logs)."""
    if not isinstance(options, KubernetesLogsOptions):
        return True
    namespace = metadata_from_path(path).get("namespace")
    if namespace is None:
        return True
    return (not options.include_namespaces or namespace in options.include_namespaces) \
        and namespace not in options.exclude_namespaces


def _same_file(name: str, status: os.stat_result) -> bool:
    try:
        return FileIdentity.of(os.stat(name)) == FileIdentity.of(status)
    except OSError:
        return False


def _by_inode(directory: str, inode: int) -> tuple[str, os.stat_result] | None:
    """Out of descriptors raises (the command fails; it never reports a file gone that it could not look for)."""
    return next(((path, status) for path, status in regular_files(directory) if status.st_ino == inode), None)


class Refused(Exception):
    """The data dir already holds checkpoints for files to import."""


def write(config: AgentConfig, result: Plan, force: bool) -> None:
    """Write the plan's checkpoints into the data dir's spool, each source's in one transaction; the
    data dir's lock is held throughout (no agent may run there meanwhile: DataDirLocked)."""
    lock = DataDirLock.acquire(config.data_dir)
    try:
        spool = Spool.open(config.data_dir, config.buffer.max_size)
        try:
            present = {source: set(spool.checkpoints(source)) & set(checkpoints)
                       for source, checkpoints in result.checkpoints.items()}
            if any(present.values()) and not force:
                count = sum(map(len, present.values()))
                raise Refused(f"{config.data_dir} already has checkpoints for {count} of these file(s) "
                              f"(in source(s) {', '.join(sorted(s for s, keys in present.items() if keys))}): "
                              "an agent has read them already; --force replaces them")
            for source, checkpoints in result.checkpoints.items():
                spool.write_checkpoints(source, checkpoints)
        finally:
            spool.close()
    finally:
        lock.release()


def render(result: Plan) -> str:
    lines = []
    for outcome in result.outcomes:
        where = f"from offset {outcome.offset}" if outcome.offset is not None else "skipped"
        lines.append(f"{outcome.source}\t{outcome.path}\t{where}\t{outcome.note}")
    imported = sum(o.offset is not None for o in result.outcomes)
    lines.append(f"{imported} file(s) imported, {len(result.outcomes) - imported} skipped")
    return "\n".join(lines)

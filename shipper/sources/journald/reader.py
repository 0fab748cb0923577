"""The journal, through the C-level methods of systemd-python's reader: opening, seeking a cursor,
reading, waiting.

`journal.Reader.get_next()` converts every field of every entry in Python (about 15 us of a 20 us
read for a kubelet entry of ~20 fields); here an entry is read as its raw bytes (`_get_all`), its
time as an integer (`_get_realtime`), and only the fields a record keeps or a filter asks for are
converted, with the reader's own converters (`convert`), so values are exactly what `get_next` gave.
The cursor is asked once per block, for its last entry. Every call here blocks; the source runs
them in worker threads, and a lock makes them one at a time: a close waits for a read or a wait still
running in another thread (a cancelled source's) instead of freeing the journal under it.

Where the `_journal` kernel is compiled (shipper/kernels/) and the source neither filters entries nor
keeps every field, `CompiledJournal` reads instead: libsystemd directly, a block of entries made into
records in one call, only MESSAGE and the kept fields turned into Python objects; every entry the
kernel cannot make alone goes to RecordMaker (the reference), which `Journal` runs for every entry.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shipper import kernels
from shipper.record import Record
from shipper.sources.journald.config import INSTALL_HINT, JournaldOptions
from shipper.sources.journald.fields import RawEntry, RecordMaker

log = logging.getLogger(__name__)


class Journal:
    """The journal through systemd-python's reader. The few primitives it uses (`_next`, `_previous`,
    `_cursor`, `_entry`, `_wait`) are methods of their own, so that CompiledJournal shares everything
    else: seeking, the entry a vanished cursor leaves pending, the lock."""

    def __init__(self, options: JournaldOptions):
        try:
            from systemd import journal
        except ImportError as error:  # the config check catches this first; a broken install still lands here
            raise RuntimeError(INSTALL_HINT) from error
        self.reader = self._open(journal, options)
        self.options = options
        self._pending: list[RawEntry] = []  # read while seeking, not yet returned
        self._pending_cursor: str | None = None
        self.start_cursor: str | None = None  # with read_from end, the entry a first start skips to
        self._lock = threading.Lock()

    def _open(self, journal: Any, options: JournaldOptions) -> Any:
        if options.files:
            return journal.Reader(files=options.files)
        if options.directory:
            return journal.Reader(path=options.directory)
        return journal.Reader()

    def seek(self, cursor: str | None) -> bool:
        """Position after `cursor` (seek_cursor lands ON it); False if the cursor's entry is gone."""
        with self._lock:
            return self._seek(cursor)

    def _seek(self, cursor: str | None) -> bool:
        reader = self.reader
        if cursor is None:
            if self.options.read_from == "beginning":
                reader.seek_head()
            else:
                reader.seek_tail()
                # now at the last entry: the next read returns what follows
                self.start_cursor = self._cursor() if self._previous() else None
            return True
        reader.seek_cursor(cursor)
        if not self._next():
            return False
        if reader.test_cursor(cursor):
            return True
        # the cursor's entry is gone (vacuumed, rotated away): the nearest one is unread
        self._pending.append(self._entry())
        self._pending_cursor = self._cursor()
        return False

    def read(self, count: int) -> tuple[list[RawEntry], str | None]:
        """Up to `count` entries and the cursor of the last of them (None when there is none)."""
        with self._lock:
            entries, cursor = self._take_pending()
            moved = False
            while len(entries) < count and self._next():
                entries.append(self._entry())
                moved = True
            return entries, self._cursor() if moved else cursor

    def _take_pending(self) -> tuple[list[RawEntry], str | None]:
        """The entry a seek past a vanished cursor read, and its cursor (none of either after a seek that
        found its cursor)."""
        pending, cursor = self._pending, self._pending_cursor
        self._pending, self._pending_cursor = [], None
        return pending, cursor

    def convert(self, name: str, value: Any) -> Any:
        """A raw value as `journal.Reader` converts it (int for _PID and PRIORITY, UUID, text, ...)."""
        if isinstance(value, list):
            return [self.reader._convert_field(name, item) for item in value]
        return self.reader._convert_field(name, value)

    def wait(self, timeout: float) -> None:
        with self._lock:
            self._wait(timeout)

    def close(self) -> None:
        with self._lock:
            self.reader.close()

    def _next(self) -> bool:
        return bool(self.reader._next())

    def _previous(self) -> bool:
        return bool(self.reader._previous())

    def _cursor(self) -> str:
        return str(self.reader._get_cursor())

    def _entry(self) -> RawEntry:
        return RawEntry(self.reader._get_realtime(), self.reader._get_all())

    def _wait(self, timeout: float) -> None:
        self.reader.wait(timeout)


class CompiledJournal(Journal):
    """The journal through the `_journal` kernel, for a source that keeps the usual fields and filters
    nothing: the same entries, cursors and records as `Journal` with RecordMaker (tests/kernels/)."""

    def __init__(self, options: JournaldOptions):
        super().__init__(options)
        from systemd import journal  # there: Journal's __init__ imported it

        self.converters = journal.DEFAULT_CONVERTERS

    def _open(self, journal: Any, options: JournaldOptions) -> Any:
        assert kernels.journal is not None
        return kernels.journal.Reader(path=options.directory or None, files=options.files or None)

    def read_records(self, count: int, maker: RecordMaker) -> tuple[list[Record], int, str | None]:
        """Up to `count` entries as records, how many had a MESSAGE that was not UTF-8, and the cursor of
        the last entry (None when there is none)."""
        with self._lock:
            pending, cursor = self._take_pending()
            records, invalid = [], 0
            for entry in pending:
                record, bad = maker.record(entry)
                records.append(record)
                invalid += bad
            more, bad_more = self.reader.records(count - len(records), maker.shared, maker.raw_record)
            return records + more, invalid + bad_more, self._cursor() if more else cursor

    def convert(self, name: str, value: Any) -> Any:
        """As `journal.Reader._convert_field` (systemd-python) converts a raw value."""
        if isinstance(value, list):
            return [self.convert(name, item) for item in value]
        convert = self.converters.get(name, bytes.decode)
        try:
            return convert(value)
        except ValueError:
            return value

    def _next(self) -> bool:
        return bool(self.reader.next())

    def _previous(self) -> bool:
        return bool(self.reader.previous())

    def _cursor(self) -> str:
        return str(self.reader.cursor())

    def _entry(self) -> RawEntry:
        return RawEntry(self.reader.realtime(), self.reader.fields())

    def _wait(self, timeout: float) -> None:
        self.reader.wait(int(timeout * 1_000_000))


def compiled_for(options: JournaldOptions) -> bool:
    """Whether `CompiledJournal` reads for a source of these options: the kernel is compiled, and the
    source filters no entry and keeps the usual fields (the kernel makes only those records)."""
    return kernels.journal is not None and not options.filtering and not options.keep_all_fields

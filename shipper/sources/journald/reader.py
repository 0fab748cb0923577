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
    def __init__(self, options: JournaldOptions):
        try:
            from systemd import journal
        except ImportError as error:  # the config check catches this first; a broken install still lands here
            raise RuntimeError(INSTALL_HINT) from error
        if options.files:
            self.reader = journal.Reader(files=options.files)
        elif options.directory:
            self.reader = journal.Reader(path=options.directory)
        else:
            self.reader = journal.Reader()
        self.options = options
        self._pending: list[RawEntry] = []  # read while seeking, not yet returned
        self._pending_cursor: str | None = None
        self.start_cursor: str | None = None  # with read_from end, the entry a first start skips to
        self._lock = threading.Lock()

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
                self.start_cursor = reader._get_cursor() if reader._previous() else None
            return True
        reader.seek_cursor(cursor)
        if not reader._next():
            return False
        if reader.test_cursor(cursor):
            return True
        # the cursor's entry is gone (vacuumed, rotated away): the nearest one is unread
        self._pending.append(self._entry())
        self._pending_cursor = reader._get_cursor()
        return False

    def read(self, count: int) -> tuple[list[RawEntry], str | None]:
        """Up to `count` entries and the cursor of the last of them (None when there is none)."""
        with self._lock:
            return self._read(count)

    def _read(self, count: int) -> tuple[list[RawEntry], str | None]:
        entries, self._pending = self._pending, []
        cursor, self._pending_cursor = self._pending_cursor, None
        reader = self.reader
        moved = False
        while len(entries) < count and reader._next():
            entries.append(self._entry())
            moved = True
        if moved:
            cursor = reader._get_cursor()
        return entries, cursor

    def convert(self, name: str, value: Any) -> Any:
        """A raw value as `journal.Reader` converts it (int for _PID and PRIORITY, UUID, text, ...)."""
        if isinstance(value, list):
            return [self.reader._convert_field(name, item) for item in value]
        return self.reader._convert_field(name, value)

    def _entry(self) -> RawEntry:
        return RawEntry(self.reader._get_realtime(), self.reader._get_all())

    def wait(self, timeout: float) -> None:
        with self._lock:
            self.reader.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self.reader.close()


class CompiledJournal:
    """The journal through the `_journal` kernel, for a source that keeps the usual fields and filters
    nothing: the same entries, cursors and records as `Journal` with RecordMaker (tests/kernels/)."""

    def __init__(self, options: JournaldOptions):
        try:
            from systemd import journal
        except ImportError as error:
            raise RuntimeError(INSTALL_HINT) from error
        assert kernels.journal is not None
        self.reader = kernels.journal.Reader(path=options.directory or None, files=options.files or None)
        self.converters = journal.DEFAULT_CONVERTERS
        self.options = options
        self._pending: list[RawEntry] = []
        self._pending_cursor: str | None = None
        self.start_cursor: str | None = None

    def seek(self, cursor: str | None) -> bool:
        """As `Journal.seek`."""
        reader = self.reader
        if cursor is None:
            if self.options.read_from == "beginning":
                reader.seek_head()
            else:
                reader.seek_tail()
                self.start_cursor = reader.cursor() if reader.previous() else None
            return True
        reader.seek_cursor(cursor)
        if not reader.next():
            return False
        if reader.test_cursor(cursor):
            return True
        self._pending.append(RawEntry(reader.realtime(), reader.fields()))
        self._pending_cursor = reader.cursor()
        return False

    def read_records(self, count: int, maker: RecordMaker) -> tuple[list[Record], int, str | None]:
        """Up to `count` entries as records, how many had a MESSAGE that was not UTF-8, and the cursor of
        the last entry (None when there is none)."""
        records, invalid = [], 0
        for entry in self._pending:
            record, bad = maker.record(entry)
            records.append(record)
            invalid += bad
        cursor, self._pending, self._pending_cursor = self._pending_cursor, [], None
        more, bad_more = self.reader.records(count - len(records), maker.shared, maker.raw_record)
        if more:
            cursor = self.reader.cursor()
        return records + more, invalid + bad_more, cursor

    def convert(self, name: str, value: Any) -> Any:
        """As `journal.Reader._convert_field` (systemd-python) converts a raw value."""
        if isinstance(value, list):
            return [self.convert(name, item) for item in value]
        convert = self.converters.get(name, bytes.decode)
        try:
            return convert(value)
        except ValueError:
            return value

    def wait(self, timeout: float) -> None:
        self.reader.wait(int(timeout * 1_000_000))

    def close(self) -> None:
        self.reader.close()


def compiled_for(options: JournaldOptions) -> bool:
    """Whether `CompiledJournal` reads for a source of these options: the kernel is compiled, and the
    source filters no entry and keeps the usual fields (the kernel makes only those records)."""
    filtering = options.units or options.identifiers or options.max_priority is not None or options.matches
    return kernels.journal is not None and not filtering and not options.keep_all_fields

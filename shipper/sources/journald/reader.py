"""The journal, through systemd-python's `journal.Reader`: opening, seeking a cursor, reading, waiting.

Every call here blocks; the source runs them in a worker thread, one at a time.
"""

from __future__ import annotations

import logging
from typing import Any

from shipper.sources.journald.config import INSTALL_HINT, JournaldOptions

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, options: JournaldOptions):
        try:
            from systemd import journal
        except ImportError as error:  # the config check catches this first; a broken install still lands here
            raise RuntimeError(INSTALL_HINT) from error
        self._journal = journal
        if options.files:
            self.reader = journal.Reader(files=options.files)
        elif options.directory:
            self.reader = journal.Reader(path=options.directory)
        else:
            self.reader = journal.Reader()
        self.options = options
        self._pending: list[dict[str, Any]] = []  # read while seeking, not yet returned
        self.start_cursor: str | None = None  # with read_from end, the entry a first start skips to

    def seek(self, cursor: str | None) -> bool:
        """Position after `cursor` (seek_cursor lands ON it); False if the cursor's entry is gone."""
        reader = self.reader
        if cursor is None:
            if self.options.read_from == "beginning":
                reader.seek_head()
            else:
                reader.seek_tail()
                last = reader.get_previous()  # now at the last entry: the next read returns what follows
                self.start_cursor = last.get("__CURSOR") if last else None
            return True
        reader.seek_cursor(cursor)
        landed = reader.get_next()
        if landed and reader.test_cursor(cursor):
            return True
        if landed:  # the cursor's entry is gone (vacuumed, rotated away): the nearest one is unread
            self._pending.append(landed)
        return False

    def read(self, count: int) -> list[dict[str, Any]]:
        entries, self._pending = self._pending, []
        while len(entries) < count:
            entry = self.reader.get_next()
            if not entry:
                break
            entries.append(entry)
        return entries

    def wait(self, timeout: float) -> None:
        self.reader.wait(timeout)

    def close(self) -> None:
        self.reader.close()

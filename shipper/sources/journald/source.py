"""The `journald` source: journal entries into the spool with the cursor, in one transaction.

On start the reader seeks the committed cursor and skips the entry it lands on. Waiting for new
entries happens in a worker thread (the journal's own wait), so an idle journal costs no CPU.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shipper.record import Block, Record
from shipper.sources.base import Source
from shipper.sources.journald.config import JournaldOptions
from shipper.sources.journald.fields import Convert, RawEntry, RecordMaker
from shipper.sources.journald.reader import CompiledJournal, Journal, compiled_for

CURSOR_KEY = "cursor"
WAIT = 0.5  # longest a wait lasts, so a stop is noticed within this time


class JournaldSource(Source):
    options: JournaldOptions

    async def run(self) -> None:
        journal: Journal | CompiledJournal = await asyncio.to_thread(
            CompiledJournal if compiled_for(self.options) else Journal, self.options)
        try:
            cursor = self.spool.checkpoints(self.id).get(CURSOR_KEY)
            found = await asyncio.to_thread(journal.seek, cursor.decode() if cursor else None)
            if not found:
                self.log.warning("journal cursor of %s is gone (vacuumed or rotated away while stopped); "
                            "resuming at the oldest entry still there: entries in between were lost", self.id)
                self.count_error("read", "cursor_not_found")
            if cursor is None and journal.start_cursor:  # so a restart skips no entry written meanwhile
                await self.commit(None, {CURSOR_KEY: journal.start_cursor.encode()})
            common = {"host": self.hostname, "source_type": self.type}
            maker = RecordMaker(journal.convert, self.options.keep_all_fields)
            while not self.stopping.is_set():
                if isinstance(journal, CompiledJournal):
                    records, invalid, last = await asyncio.to_thread(journal.read_records, self.options.batch_size,
                                                                     maker)
                else:
                    entries, last = await asyncio.to_thread(journal.read, self.options.batch_size)
                    records, invalid = self._records(entries, journal.convert, maker)
                if last is not None:
                    await self._commit(records, invalid, last, common)
                else:
                    await asyncio.to_thread(journal.wait, WAIT)
        finally:
            await asyncio.to_thread(journal.close)

    def _records(self, entries: list[RawEntry], convert: Convert, maker: RecordMaker) -> tuple[list[Record], int]:
        """The records of the entries the filters keep, and how many had a MESSAGE that was not UTF-8."""
        records: list[Record] = []
        invalid = 0
        filtering = self.options.filtering
        for entry in entries:
            if filtering and not self._wanted(entry, convert):
                continue
            record, bad = maker.record(entry)
            records.append(record)
            invalid += bad
        return records, invalid

    async def _commit(self, records: list[Record], invalid: int, cursor: str, common: dict[str, Any]) -> None:
        block = Block(self.id, common, records) if records else None
        await self.commit(block, {CURSOR_KEY: cursor.encode()}, where=f"the journal before cursor {cursor}")
        self.received_events.inc(len(records))
        self.received_bytes.inc(sum(len(r[1]) for r in records))
        if invalid:
            self.count_anomaly("invalid_utf8", invalid)

    def _wanted(self, entry: RawEntry, convert: Convert) -> bool:
        options = self.options
        raw = entry.fields

        def value(name: str) -> Any:
            return convert(name, raw[name]) if name in raw else None

        chosen = options.units or options.identifiers
        if chosen and value("_SYSTEMD_UNIT") not in options.units \
                and value("SYSLOG_IDENTIFIER") not in options.identifiers:
            return False
        if options.max_priority is not None:
            priority = value("PRIORITY")
            if not isinstance(priority, int) or priority > options.max_priority:
                return False
        for name, values in options.matches.items():
            found = value(name)
            if (str(found) if not isinstance(found, str) else found) not in values:
                return False
        return True

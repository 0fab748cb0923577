"""The journal kernel (shipper/kernels/_journal.c, read by sources/journald/reader.py's CompiledJournal)
gives exactly what the reference gives (systemd-python's reader with RecordMaker) on real journal files
written by systemd-journal-remote: the same records (values, times, which records share a fields
mapping), the same count of messages that are not UTF-8 and the same cursors, whatever the entries
hold (text, newlines, bytes that are not UTF-8, an empty or missing MESSAGE, kept fields missing,
carried twice or not what their converter reads, fields nobody keeps) and however the reads are cut;
and the same place after a seek, to a cursor, past one that is gone, or to the tail."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.sources.journald.config import JournaldOptions
from shipper.sources.journald.fields import RecordMaker
from shipper.sources.journald.reader import CompiledJournal, Journal, compiled_for
from tests.journal import export_entry, write_journal

pytestmark = pytest.mark.skipif(kernels.journal is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")

texts = st.one_of(st.sampled_from(["", "plain", "two\nlines", "zürich", " 42", "4_2", "x", b"\xfe"]),
                  st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
                  st.binary(max_size=12))
numbers = st.one_of(st.integers(-3, 12).map(str), texts)


KEPT_VALUES = {"_SYSTEMD_UNIT": st.sampled_from(["kubelet.service", "containerd.service"]) | texts,
               "SYSLOG_IDENTIFIER": st.sampled_from(["kubelet", "containerd"]) | texts,
               "_PID": numbers, "_HOSTNAME": st.just("node-1") | texts, "PRIORITY": numbers}
messages = st.one_of(texts, st.sampled_from(["plain", b"bad \xff bytes", "", "two\nlines"]))


@st.composite
def profile(draw: st.DrawFn) -> dict[str, Any]:
    """The kept fields of a unit's entries (some missing)."""
    return {name: draw(values) for name, values in KEPT_VALUES.items() if draw(st.integers(0, 4))}


@st.composite
def entries(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Entries of a few units (so they share their kept fields, and the reference its mappings), now and
    then one with a field of its own, a field nobody keeps, or no MESSAGE."""
    units = draw(st.lists(profile(), min_size=1, max_size=3))
    made = []
    for _ in range(draw(st.integers(1, 14))):
        fields = dict(draw(st.sampled_from(units)))
        if not draw(st.integers(0, 5)):
            name = draw(st.sampled_from(sorted(KEPT_VALUES)))
            fields[name] = draw(KEPT_VALUES[name])
        if draw(st.integers(0, 9)):
            fields["MESSAGE"] = draw(messages)
        if draw(st.booleans()):
            fields["CONTAINER_NAME"] = draw(texts)
        made.append(fields)
    return made


def journal_of(directory: Path, made: list[dict[str, Any]], repeated: int | None) -> None:
    records = []
    for seq, fields in enumerate(made):
        entry = export_entry(seq, fields)
        if seq == repeated:  # a kept field carried twice (export format allows a field more than once)
            entry = entry[:-1] + b"SYSLOG_IDENTIFIER=again\n\n"
        records.append(entry)
    write_journal(directory / "system.journal", records)


def read_all(journal: Journal | CompiledJournal, cuts: list[int], maker: RecordMaker) -> list[Any]:
    """Every block as (records, invalid, cursor), with the sharing of fields mappings, read in `cuts`."""
    out, shared_ids = [], {}
    for count in [*cuts, 1000]:
        if isinstance(journal, CompiledJournal):
            records, invalid, cursor = journal.read_records(count, maker)
        else:
            entries, cursor = journal.read(count)
            made = [maker.record(entry) for entry in entries]
            records, invalid = [record for record, _ in made], sum(bad for _, bad in made)
        sharing = [shared_ids.setdefault(id(record[2]), len(shared_ids)) for record in records]
        out.append((records, invalid, cursor, sharing))
    return out


def both(directory: Path, **extra: Any) -> tuple[Journal, CompiledJournal]:
    options = JournaldOptions.model_validate({"type": "journald", "directory": str(directory), **extra})
    assert compiled_for(options)
    return Journal(options), CompiledJournal(options)


@settings(max_examples=150, deadline=None)
@given(entries(), st.lists(st.integers(1, 6), max_size=4), st.none() | st.integers(0, 13))
def test_the_kernel_reads_exactly_the_records_of_the_reference(made, cuts, repeated):
    with tempfile.TemporaryDirectory() as directory:
        journal_of(Path(directory), made, repeated)
        reference, compiled = both(Path(directory), read_from="beginning")
        try:
            assert reference.seek(None) and compiled.seek(None)
            expected = read_all(reference, cuts, RecordMaker(reference.convert, False))
            assert read_all(compiled, cuts, RecordMaker(compiled.convert, False)) == expected
        finally:
            reference.close()
            compiled.close()


@settings(max_examples=40, deadline=None)
@given(entries(), st.integers(0, 13), st.booleans())
def test_a_seek_lands_where_the_reference_lands(made, at, gone):
    with tempfile.TemporaryDirectory() as directory:
        journal_of(Path(directory), made, None)
        reference, compiled = both(Path(directory), read_from="beginning")
        reference.seek(None)
        reference.read(min(at, len(made) - 1) + 1)
        cursor = reference.reader._get_cursor()
        reference.close()
        compiled.close()
        if gone:  # a cursor of this journal whose entry is not there (vacuumed): the next one is read
            cursor = cursor.replace(";i=", ";i=f", 1)
        for read_from in ("beginning", "end"):
            reference, compiled = both(Path(directory), read_from=read_from)
            try:
                assert compiled.seek(cursor) == reference.seek(cursor)
                assert read_all(compiled, [], RecordMaker(compiled.convert, False)) == \
                    read_all(reference, [], RecordMaker(reference.convert, False))
                reference.seek(None)
                compiled.seek(None)
                assert compiled.start_cursor == reference.start_cursor
            finally:
                reference.close()
                compiled.close()


def test_a_source_that_filters_or_keeps_every_field_reads_with_the_reference(tmp_path):
    def options(**extra: Any) -> JournaldOptions:
        return JournaldOptions.model_validate({"type": "journald", "directory": str(tmp_path), **extra})

    assert compiled_for(options())
    assert not compiled_for(options(units=["kubelet.service"]))
    assert not compiled_for(options(max_priority="warning"))
    assert not compiled_for(options(keep_all_fields=True))


def test_a_closed_reader_refuses_to_read(tmp_path):
    write_journal(tmp_path / "system.journal", [export_entry(0, {"MESSAGE": "x"})])
    reader = kernels.journal.Reader(path=str(tmp_path))
    reader.close()

    with pytest.raises(ValueError, match="closed"):
        reader.records(10, {}, lambda usec, raw: None)


def test_a_close_from_another_thread_waits_for_the_read_in_progress(tmp_path):
    write_journal(tmp_path / "system.journal", [export_entry(0, {"MESSAGE": "x"})])
    reader = kernels.journal.Reader(path=str(tmp_path))
    reader.seek_tail()
    reader.previous()
    reader.wait(0)  # the first wait reports the files it opened (INVALIDATE) at once
    waiting = threading.Event()
    outcome: list[object] = []

    def wait() -> None:
        waiting.set()
        outcome.append(reader.wait(1_000_000))  # a second: nothing comes

    thread = threading.Thread(target=wait)
    thread.start()
    waiting.wait()
    time.sleep(0.2)  # into libsystemd's wait: there is no condition to await from here
    asked = time.monotonic()
    reader.close()
    closed = time.monotonic()

    assert closed - asked > 0.5  # it waited for the wait's second to pass (freeing the journal under it did not)
    assert not thread.is_alive() and len(outcome) == 1
    thread.join()
    with pytest.raises(ValueError, match="closed"):
        reader.next()

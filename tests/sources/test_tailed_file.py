"""A tailed file's life cycle: followed while its path names it, drained once the path moves on,
closed when read to its end; only its own transitions change its state."""

from __future__ import annotations

import os
from pathlib import Path

from shipper.sources.files.formats import PlainDecoder
from shipper.sources.files.identity import FileIdentity, Fingerprint
from shipper.sources.files.reader import ROTATE_WAIT, FileState, TailedFile


def opened(path: Path, text: str = "one\n") -> TailedFile:
    path.write_text(text)
    fd = os.open(path, os.O_RDONLY)
    return TailedFile(str(path), fd, FileIdentity.of(os.fstat(fd)), 0, Fingerprint.read(fd), PlainDecoder())


def test_a_followed_file_is_reading_until_it_catches_up(tmp_path):
    file = opened(tmp_path / "app.log")

    assert file.state is FileState.READING
    file.caught_up()
    assert file.state is FileState.AT_EOF


def test_a_file_whose_path_moved_away_is_read_again_and_drained(tmp_path):
    file = opened(tmp_path / "app.log")
    file.caught_up()

    file.path_moved_away(now=100.0)

    assert file.state is FileState.ROTATED and not file.at_eof  # lines may have come since the last read
    assert not file.writer_gone(now=100.0 + ROTATE_WAIT - 0.1)
    assert file.writer_gone(now=100.0 + ROTATE_WAIT)


def test_a_second_move_does_not_restart_the_writers_grace(tmp_path):
    file = opened(tmp_path / "app.log")
    file.path_moved_away(now=100.0)

    file.path_moved_away(now=104.0)

    assert file.writer_gone(now=100.0 + ROTATE_WAIT)


def test_a_file_renamed_to_an_included_name_is_followed_again(tmp_path):
    file = opened(tmp_path / "app.log")
    file.path_moved_away(now=100.0)

    file.renamed_to(str(tmp_path / "app-2.log"), {"file": str(tmp_path / "app-2.log")})

    assert file.state is FileState.READING and file.path == str(tmp_path / "app-2.log")
    assert not file.writer_gone(now=1e9)


def test_a_deleted_file_has_no_writer_left_and_keeps_its_place(tmp_path):
    file = opened(tmp_path / "app.log")
    file.caught_up()
    os.unlink(tmp_path / "app.log")

    file.found_deleted(now=100.0)

    assert file.deleted() and file.writer_gone(now=100.0)
    assert file.state is FileState.ROTATED and file.at_eof  # nothing to read again: finished at once


def test_a_file_rotated_while_stopped_is_drained_without_waiting(tmp_path):
    file = opened(tmp_path / "app.log.1")

    file.writer_long_gone(now=100.0, idle_for=0.5)

    assert file.state is FileState.ROTATED and file.writer_gone(now=100.0)


def test_reads_commits_and_truncation_move_the_offset(tmp_path):
    file = opened(tmp_path / "app.log", "one\ntwo\n")

    file.read_to(4)
    assert (file.offset, file.checkpointed) == (4, 0)  # taken, not committed yet
    file.committed(4)
    assert (file.offset, file.checkpointed) == (4, 4)
    (tmp_path / "app.log").write_text("new\n")
    file.truncated()

    assert file.offset == 0 and file.checkpointed == 4  # the new start is checkpointed by the next commit
    assert file.fingerprint == Fingerprint.read(file.fd)


def test_closing_is_final_and_happens_once(tmp_path):
    file = opened(tmp_path / "app.log")

    file.close()
    file.close()

    assert file.state is FileState.CLOSED


def test_of_two_files_rotated_while_stopped_the_one_written_to_last_counts_as_rotated_last(tmp_path):
    older, newer = opened(tmp_path / "app.log.1"), opened(tmp_path / "app.log.2")

    newer.writer_long_gone(now=100.0, idle_for=30.0)
    older.writer_long_gone(now=100.0, idle_for=90.0)

    assert older.rotated_at is not None and newer.rotated_at is not None
    assert older.rotated_at < newer.rotated_at

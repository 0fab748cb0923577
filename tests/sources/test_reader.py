"""Reading complete lines by offset: properties over arbitrary writes, long lines and bad bytes."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.sources.files.formats import PlainDecoder
from shipper.sources.files.identity import FileIdentity, Fingerprint
from shipper.sources.files.reader import TailedFile
from shipper.text import utf8_boundary


def tailed(path: Path) -> TailedFile:
    fd = os.open(path, os.O_RDONLY)
    return TailedFile(str(path), fd, FileIdentity.of(os.fstat(fd)), 0, Fingerprint.read(fd), PlainDecoder())


def drain(file: TailedFile, block: int, max_line: int, final: bool = False) -> list[str]:
    texts = []
    while (lines := file.read_lines(block, max_line, final=final)) is not None:
        texts += lines.texts
        file.offset = lines.end_offset
    return texts


lines_strategy = st.lists(st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)),
                                  max_size=300), max_size=40)


@settings(max_examples=150, deadline=None)
@given(lines=lines_strategy, cuts=st.lists(st.integers(0, 20_000), max_size=8),
       block=st.integers(4096, 9000))
def test_every_line_is_read_once_in_order_however_the_writes_cut_it(tmp_path_factory, lines, cuts, block):
    path = tmp_path_factory.mktemp("reader") / "app.log"
    payload = "".join(f"{line}\n" for line in lines).encode()
    path.write_bytes(b"")
    file = tailed(path)
    seen: list[str] = []
    previous = 0
    for cut in sorted({min(c, len(payload)) for c in cuts} | {len(payload)}):
        with open(path, "ab") as f:
            f.write(payload[previous:cut])
        previous = cut
        seen += drain(file, block, max_line=1_000_000)
    file.close()

    assert seen == lines


@settings(max_examples=100, deadline=None)
@given(line=st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), min_size=1,
                    max_size=3000), max_line=st.integers(1024, 1500))
def test_a_long_line_is_split_at_character_boundaries_and_nothing_is_lost(tmp_path_factory, line, max_line):
    path = tmp_path_factory.mktemp("long") / "app.log"
    path.write_bytes(line.encode() + b"\n")
    file = tailed(path)

    pieces = drain(file, 4096, max_line)
    file.close()

    assert "".join(pieces) == line
    assert all(len(piece.encode()) <= max_line for piece in pieces)


def test_an_unterminated_last_line_waits_for_its_newline_and_is_flushed_when_final(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntw")
    file = tailed(path)

    assert drain(file, 4096, 1024) == ["one"]
    assert file.offset == 4
    assert drain(file, 4096, 1024, final=True) == ["tw"]
    file.close()


def test_invalid_utf8_is_replaced_and_counted_and_nul_bytes_are_kept(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"ok\n\xff\xfebad\nnul\x00byte\n")
    file = tailed(path)

    lines = file.read_lines(4096, 1024)
    file.close()

    assert lines.texts == ["ok", "\ufffd\ufffdbad", "nul\x00byte"]
    assert lines.invalid_utf8 == 1


@given(st.text(min_size=1, max_size=50).map(lambda s: s.encode("utf-8", "surrogatepass")), st.integers(1, 60))
def test_utf8_boundary_never_cuts_inside_a_character(data, limit):
    cut = utf8_boundary(data, limit)

    assert 0 < cut <= max(limit, 1)
    if cut < len(data):
        assert data[cut] & 0xC0 != 0x80 or cut == limit

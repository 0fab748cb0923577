"""The CRI kernel (shipper/kernels/_cri.c) gives exactly what the Python reference gives, on any lines:
stamps valid and almost valid (every year, leap days, leap seconds, non-ASCII digits, signs and
underscores where digits go), both streams and any tag, fragments held across calls, lines of 0 to
40 characters and messages with any code point."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import kernels
from shipper.sources.files.container_formats import CriDecoder

NOW = 1_800_000_000_000_000_000

pytestmark = pytest.mark.skipif(kernels.cri is None, reason="the kernel is not compiled (SHIPPER_PURE_PYTHON)")


def test_every_kernel_is_compiled_where_the_tests_run():
    if kernels.PURE_PYTHON:
        pytest.skip("SHIPPER_PURE_PYTHON forces the reference")
    assert all(kernels.COMPILED.values()), kernels.describe()


def field(edges: list[int], usual: range) -> st.SearchStrategy[str]:
    """Two digits: mostly a usual value, often one at or past an edge."""
    return st.one_of(st.sampled_from(edges), st.integers(usual.start, usual.stop - 1)).map(lambda n: f"{n:02d}")


years = st.one_of(st.integers(1970, 2261), st.sampled_from([0, 1, 1969, 2000, 2100, 2262, 9999]),
                  st.integers(0, 9999))
valid_stamp = st.builds(
    lambda y, mo, d, h, mi, s, frac, t: f"{y:04d}-{mo}-{d}{t}{h}:{mi}:{s}.{frac:09d}Z",
    years, field([0, 1, 2, 12, 13, 99], range(1, 13)), field([0, 28, 29, 30, 31, 32], range(1, 29)),
    field([0, 23, 24, 99], range(0, 24)), field([0, 59, 60], range(0, 60)), field([59, 60, 61, 62, 99], range(0, 60)),
    st.one_of(st.integers(0, 999_999_999), st.sampled_from([0, 999_999_999])), st.sampled_from("TTTt "))
odd_char = st.sampled_from(["+", "-", "_", " ", "٣", "x", "Z", "T", ".", ":", "\uff10", "\x00", "\udcff"])


@st.composite
def stamps(draw: st.DrawFn) -> str:
    stamp = draw(valid_stamp)
    if draw(st.booleans()):  # one character of the stamp changed
        at = draw(st.integers(0, len(stamp) - 1))
        stamp = stamp[:at] + draw(odd_char) + stamp[at + 1:]
    return stamp


message = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)


@st.composite
def lines(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.text(max_size=45))
    line = f"{draw(stamps())} {draw(st.sampled_from(['stdout', 'stderr', 'stdin']))} " \
           f"{draw(st.sampled_from(['F', 'F', 'P', 'X']))} {draw(message)}"
    if shape == 1:
        return line[:draw(st.integers(0, 41))]
    return line


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.lists(lines(), max_size=12), max_size=4), st.integers(4, 64))
def test_the_kernel_decodes_exactly_as_the_reference(blocks, max_line):
    compiled, reference = CriDecoder(max_line, compiled=True), CriDecoder(max_line, compiled=False)
    for texts in blocks:
        assert compiled.decode(list(texts), NOW) == reference.decode(list(texts), NOW)
        assert compiled.malformed == reference.malformed
        assert compiled.carry() == reference.carry()
    assert compiled.split == reference.split
    assert compiled.flush() == reference.flush()


@settings(max_examples=3000, deadline=None)
@given(stamps(), st.sampled_from(["stdout", "stderr"]), message)
def test_a_whole_line_gets_the_references_time_whatever_its_stamp(stamp, stream, text):
    line = [f"{stamp} {stream} F {text}"]

    assert CriDecoder(1024, compiled=True).decode(line, NOW) == CriDecoder(1024, compiled=False).decode(line, NOW)


def test_the_kernel_takes_the_usual_line_and_leaves_the_rest_to_the_reference():
    out: list[object] = []
    texts = ["2026-11-22T10:15:00.123456789Z stdout F hello", "2026-11-22T10:15:00.123456789Z stdout P part",
             "2026-11-22T10:15:00.123456789Z stderr F after"]

    taken = kernels.cri.whole_lines(texts, 0, out, {"stream": "stdout"}, {"stream": "stderr"})

    assert taken == 1
    assert out == [(1_795_342_500_123_456_789, "hello", {"stream": "stdout"})]

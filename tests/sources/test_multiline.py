"""Multi-line grouping: stack traces become one record, per stream, within size, across restarts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shipper.sources.files.container_formats import ContainerDecoder
from shipper.sources.files.formats import PlainDecoder
from shipper.sources.files.multiline import PatternDecoder, restored

DATED = r"^\d{4}-\d{2}-\d{2} "
NOW = 1795342500_000000000


def lines_of(text: str) -> list[str]:
    return text.split("\n")


JAVA = lines_of("""2026-11-22 10:15:00 ERROR request failed
java.lang.IllegalStateException: boom
\tat com.example.Service.handle(Service.java:42)
\tat com.example.Main.main(Main.java:7)
Caused by: java.io.IOException: disk
\t... 2 more""")
PYTHON = lines_of("""2026-11-22 10:15:01 ERROR unhandled
Traceback (most recent call last):
  File "app.py", line 3, in <module>
    main()
ValueError: bad value""")
GO = lines_of("""2026-11-22 10:15:02 panic: runtime error: index out of range [3] with length 3

goroutine 1 [running]:
main.main()
\t/app/main.go:8 +0x1d
exit status 2""")


def plain(max_size: int = 1 << 20, timeout: float = 1.0) -> PatternDecoder:
    return PatternDecoder(PlainDecoder(), DATED, timeout, max_size)


def messages(records) -> list[str]:
    return [record[1] for record in records]


def test_java_python_and_go_traces_each_become_one_record():
    decoder = plain()

    out = decoder.decode([*JAVA, *PYTHON, *GO, "2026-11-22 10:15:03 INFO next"], NOW)

    assert messages(out) == ["\n".join(JAVA), "\n".join(PYTHON), "\n".join(GO)]
    assert messages(decoder.flush()) == ["2026-11-22 10:15:03 INFO next"]


def test_a_group_keeps_the_time_of_its_first_line():
    decoder = PatternDecoder(ContainerDecoder(1 << 20), DATED, 1.0, 1 << 20)
    lines = [f"2026-11-22T10:15:0{i}.000000000Z stdout F {text}" for i, text in enumerate(PYTHON)]

    out = decoder.decode(lines, NOW) + decoder.flush()

    assert messages(out) == ["\n".join(PYTHON)]
    assert out[0][0] == 1795342500_000000000
    assert out[0][2] == {"stream": "stdout"}


def test_stdout_and_stderr_are_grouped_apart():
    decoder = PatternDecoder(ContainerDecoder(1 << 20), DATED, 1.0, 1 << 20)
    ts = "2026-11-22T10:15:00.000000000Z"
    lines = [f"{ts} stderr F {JAVA[0]}", f"{ts} stdout F 2026-11-22 10:15:00 INFO hello",
             *(f"{ts} stderr F {text}" for text in JAVA[1:]), f"{ts} stdout F   continued"]

    out = decoder.decode(lines, NOW) + decoder.flush()

    assert sorted(messages(out)) == sorted(["\n".join(JAVA), "2026-11-22 10:15:00 INFO hello\n  continued"])


def test_only_a_quiet_group_is_shipped_by_the_timeout():
    decoder = plain(timeout=1.0)
    decoder.decode(PYTHON, NOW)
    touched = decoder.groups[None].touched

    assert decoder.expired(touched + 0.5) == []
    assert messages(decoder.expired(touched + 1.0)) == ["\n".join(PYTHON)]
    assert decoder.groups == {}


def test_a_group_that_would_pass_the_size_limit_is_closed_and_counted():
    decoder = plain(max_size=60)
    lines = ["2026-11-22 10:15:00 start", *(f"  continuation {i:02d}" for i in range(6))]

    out = decoder.decode(lines, NOW) + decoder.flush()

    assert "\n".join(messages(out)) == "\n".join(lines)
    assert all(len(message.encode()) <= 60 for message in messages(out))
    assert decoder.split == len(out) - 1


def test_the_size_limit_counts_utf8_bytes_not_characters():
    decoder = plain(max_size=40)
    lines = ["2026-11-22 10:15:00 é", "ééééééééé", "ééééééééé"]  # 22, 18 and 18 bytes

    out = decoder.decode(lines, NOW) + decoder.flush()

    assert messages(out) == [lines[0], "\n".join(lines[1:])]


def test_an_open_group_survives_a_restart_through_the_carry():
    first = plain()
    first.decode(JAVA[:3], NOW)
    carry = first.carry()

    second = plain()
    second.restore(carry)
    out = second.decode([*JAVA[3:], "2026-11-22 10:15:09 INFO after"], NOW)

    assert messages(out) == ["\n".join(JAVA)]


def test_a_checkpoint_written_without_multiline_restores_the_inner_decoder():
    inner = ContainerDecoder(1 << 20)
    inner.decode(["2026-11-22T10:15:00.000000000Z stdout P half "], NOW)
    decoder = PatternDecoder(ContainerDecoder(1 << 20), DATED, 1.0, 1 << 20)

    decoder.restore(inner.carry())
    out = decoder.decode(["2026-11-22T10:15:00.000000000Z stdout F line"], NOW) + decoder.flush()

    assert messages(out) == ["half line"]


line = st.one_of(
    st.from_regex(r"\A2026-11-22 [a-z ]{0,12}\Z"),
    st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=30),
)


@given(st.lists(line, max_size=60), st.integers(1, 6), st.integers(40, 200))
def test_grouping_never_loses_reorders_or_invents_a_line(lines, chunks, max_size):
    decoder = plain(max_size=max_size)
    out = []
    size = max(1, len(lines) // chunks)
    for start in range(0, len(lines), size):
        carry = decoder.carry()
        decoder = plain(max_size=max_size)  # every chunk is read by a restarted agent
        decoder.restore(carry)
        out += decoder.decode(lines[start : start + size], NOW)
    out += decoder.flush()

    assert "\n".join(messages(out)) == "\n".join(lines)
    assert len(out) >= sum(1 for text in lines if text.startswith("2026-11-22 "))


def test_a_group_open_at_the_checkpoint_of_a_decoder_that_groups_no_longer_is_kept_then_shipped_first():
    """multiline taken out of the configuration (or off for the pod) while a group was open."""
    grouping = PatternDecoder(ContainerDecoder(1 << 20), DATED, 1.0, 1 << 20)
    grouping.decode([f"2026-11-22T10:15:00.000000000Z stdout F {text}" for text in PYTHON[:3]], NOW)

    plain_now = restored(ContainerDecoder(1 << 20), grouping.carry())
    carried = plain_now.carry()
    out = plain_now.decode(["2026-11-22T10:15:01.000000000Z stdout F next"], NOW)

    assert carried == grouping.carry()  # a crash before the next read still has the group
    assert messages(out) == ["\n".join(PYTHON[:3]), "next"]
    assert plain_now.carry() is None or "multiline" not in plain_now.carry()

"""CRI and docker json-file lines: fields, fragment joins by content, carry across restarts, bad lines."""

from __future__ import annotations

import os

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.sources.files.container_formats import (
    MALFORMED_CRI,
    MALFORMED_DOCKER,
    ContainerDecoder,
    CriDecoder,
)
from shipper.sources.kubernetes_logs.paths import metadata_from_path
from shipper.times import parse_rfc3339_exact

T0 = "2026-11-22T10:15:00.123456789Z"
T0_NS = 1795342500_123456789
MiB = 1024 * 1024


def cri(stream: str, tag: str, text: str, ts: str = T0) -> str:
    return f"{ts} {stream} {tag} {text}"


def docker(stream: str, text: str, ts: str = T0) -> str:
    return orjson.dumps({"log": text, "stream": stream, "time": ts}).decode()


def test_timestamps_keep_nanoseconds_and_honour_offsets():
    assert parse_rfc3339_exact(T0) == T0_NS
    assert parse_rfc3339_exact("2026-11-22T11:15:00.5+01:00") == 1795342500_500000000
    assert parse_rfc3339_exact("2026-11-22T10:15:00Z") == 1795342500_000000000


def test_a_cri_full_line_becomes_one_record_with_its_stream_and_time():
    decoder = ContainerDecoder(MiB)

    records = decoder.decode([cri("stderr", "F", "boom: it failed"), cri("stdout", "F", "")], 0)

    assert records == [(T0_NS, "boom: it failed", {"stream": "stderr"}), (T0_NS, "", {"stream": "stdout"})]
    assert decoder.format == "cri"


def test_cri_partials_join_the_next_full_line_of_the_same_stream_only_and_take_its_time():
    decoder = ContainerDecoder(MiB)

    records = decoder.decode([
        cri("stdout", "P", "first half, "),
        cri("stderr", "F", "an error in between"),
        cri("stdout", "F", "second half", ts="2026-11-22T10:15:01Z"),
    ], 0)

    assert records == [
        (T0_NS, "an error in between", {"stream": "stderr"}),
        (1795342501_000000000, "first half, second half", {"stream": "stdout"}),  # not refused as too old
    ]


def test_a_partial_held_at_a_checkpoint_completes_after_a_restart():
    before = ContainerDecoder(MiB)
    assert before.decode([cri("stdout", "P", "held ")], 0) == []
    carried = orjson.loads(orjson.dumps(before.carry()))  # as stored in the spool

    after = ContainerDecoder(MiB)
    after.restore(carried)

    assert after.decode([cri("stdout", "F", "and done")], 0) == [(T0_NS, "held and done", {"stream": "stdout"})]


def test_p_fragments_over_one_mebibyte_join_whole_when_the_limit_allows():
    fragments = ["a" * 16384] * 80  # 1.25 MiB in 16 KiB CRI pieces
    decoder = ContainerDecoder(2 * MiB)

    records = decoder.decode([cri("stdout", "P", f) for f in fragments] + [cri("stdout", "F", "end")], 0)

    assert [len(r[1]) for r in records] == [80 * 16384 + 3]


def test_a_joined_record_over_the_limit_is_shipped_in_pieces_and_counted():
    decoder = ContainerDecoder(256 * 1024)
    fragments = ["b" * 16384] * 80

    records = decoder.decode([cri("stdout", "P", f) for f in fragments] + [cri("stdout", "F", "end")], 0)

    assert "".join(r[1] for r in records) == "b" * (80 * 16384) + "end"
    assert all(len(r[1]) <= 256 * 1024 for r in records)
    assert decoder.split == 5


@given(st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=2000),
       st.lists(st.integers(1, 2000), max_size=10))
def test_any_message_cut_into_p_fragments_joins_back_exactly(message, cuts):
    points = sorted({min(c, len(message)) for c in cuts})
    pieces = [message[a:b] for a, b in zip([0, *points], [*points, len(message)], strict=True)]
    decoder = ContainerDecoder(MiB)

    records = decoder.decode([cri("stdout", "P", p) for p in pieces[:-1]] + [cri("stdout", "F", pieces[-1])], 0)

    assert records == [(T0_NS, message, {"stream": "stdout"})]


stamp_chars = st.sampled_from("0123456789-:.TZ +_\t")
near_stamps = st.one_of(
    st.just(T0),
    st.lists(stamp_chars, min_size=30, max_size=30).map("".join),
    st.builds(lambda i, c: T0[:i] + c + T0[i + 1:], st.integers(0, 29), stamp_chars),
    st.integers(0, 29).map(lambda i: T0[:i] + " " + T0[i + 1:]),  # a space: the general path splits there
)


@settings(max_examples=1000)
@given(near_stamps, st.sampled_from(["stdout", "stderr", "stderr", "stdou"]), st.sampled_from(["F", "F", "F", "P", ""]),
       st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=20))
def test_the_whole_line_fast_path_decodes_every_line_as_the_general_path_does(stamp, stream, tag, text):
    line = f"{stamp} {stream} {tag} {text}"
    general: list = []
    CriDecoder(MiB)._decode_line(line, 7, general)

    assert CriDecoder(MiB).decode([line], 7) == general


def test_malformed_cri_lines_are_shipped_raw_and_flagged():
    decoder = ContainerDecoder(MiB)

    records = decoder.decode([cri("stdout", "F", "fine"), "garbage without fields", cri("stdout", "X", "bad tag")], 7)

    assert records[1:] == [(7, "garbage without fields", MALFORMED_CRI),
                           (7, cri("stdout", "X", "bad tag"), MALFORMED_CRI)]
    assert decoder.malformed == 2


def test_docker_lines_strip_the_newline_and_join_16k_pieces():
    decoder = ContainerDecoder(MiB)

    records = decoder.decode([
        docker("stdout", "x" * 16384),
        docker("stdout", "y" * 10 + "\n"),
        docker("stderr", "warn\n"),
        '{"log": 42}',
    ], 3)

    assert decoder.format == "docker"
    assert records[0] == (T0_NS, "x" * 16384 + "y" * 10, {"stream": "stdout"})
    assert records[1] == (T0_NS, "warn", {"stream": "stderr"})
    assert records[2] == (3, '{"log": 42}', MALFORMED_DOCKER)


def test_flush_ships_fragments_whose_full_line_never_came():
    decoder = ContainerDecoder(MiB)
    decoder.decode([cri("stdout", "P", "orphan")], 0)

    assert decoder.flush() == [(T0_NS, "orphan", {"stream": "stdout"})]
    assert decoder.carry() is None


def test_metadata_comes_from_the_container_link_and_the_pod_directory(tmp_path):
    pod_dir = tmp_path / "pods" / "shop_checkout-7d9f_0b5e2c1a-1111-2222-3333-444455556666" / "app"
    pod_dir.mkdir(parents=True)
    (pod_dir / "0.log").write_text("")
    container_id = "c" * 64
    link = tmp_path / "containers" / f"checkout-7d9f_shop_app-{container_id}.log"
    link.parent.mkdir()
    os.symlink(pod_dir / "0.log", link)

    assert metadata_from_path(str(link)) == {
        "pod_name": "checkout-7d9f", "namespace": "shop", "container_name": "app",
        "container_id": container_id, "pod_uid": "0b5e2c1a-1111-2222-3333-444455556666",
    }

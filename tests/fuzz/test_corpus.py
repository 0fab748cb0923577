"""Every input of the committed fuzz corpus, crashes the fuzzer once found included, replayed as a
plain test: each target keeps its promise on each (tests/fuzz/targets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

CORPUS = Path(__file__).resolve().parent / "corpus"
INPUTS = sorted((target, path) for target in TARGETS for path in (CORPUS / target).iterdir())


def test_every_target_has_a_corpus():
    assert {target for target, _ in INPUTS} == set(TARGETS)


@pytest.mark.parametrize(("target", "path"), INPUTS, ids=[f"{t}/{p.name}" for t, p in INPUTS])
def test_each_target_keeps_its_promise_on_each_corpus_input(target, path):
    TARGETS[target](path.read_bytes())

"""Every expression that reads record data runs in time linear in the text: a pod's crafted 256 KiB line
costs milliseconds, never the hours a backtracking expression takes (one 10 KB line held a backtracking
`secret_assignment` for 6.8 s). The budget is generous: it tells linear from quadratic, not fast from slow."""

from __future__ import annotations

import time

import pytest

from shipper.parsers import PRESETS
from shipper.regex import compile_regex
from shipper.transforms.redact.patterns import BUILTINS
from tests.transforms.helpers import block, make, run

SIZE = 256 * 1024
BUDGET = 3.0  # seconds for one line


def repeated(unit: str, prefix: str = "") -> str:
    return prefix + unit * ((SIZE - len(prefix)) // len(unit))


ADVERSARIAL = [repeated(unit) for unit in (
    "password", "password=", "a_", "eyJaaaa.", "a.", "a@", "a@b.", "1 ", "1-", "bearer ", "basic ", "a://:", "a:",
    'password="', "AKIA", "aws ", "A", "1.", "a=", 'a="x ', 'a="\\', "[a b=\"", "token: ", "x@y.z@")]
PARSE_LINES = [*ADVERSARIAL, repeated('a\\"', '1.2.3.4 - - [x] "'), repeated("]", "1 - - ["),
               repeated('[a b="', "<1>1 - - - - - "), repeated("[a", "<1>1 - - - - - "),
               repeated("a[", "<1>Jan  1 00:00:00 h "), repeated(" ", "I1202 10:15:00.123456 "),
               repeated("a:", "I1202 10:15:00 1 ")]


def elapsed(call, *args) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


@pytest.mark.parametrize("line", ADVERSARIAL, ids=lambda line: repr(line[:12]))
def test_every_builtin_redacts_a_crafted_long_line_in_linear_time(line):
    redact = make("redact", builtins=list(BUILTINS))

    assert elapsed(run, redact, block(line)) < BUDGET


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_parse_preset_reads_crafted_long_lines_in_linear_time(preset):
    for line in PARSE_LINES:
        assert elapsed(PRESETS[preset], line) < BUDGET, repr(line[:30])


def test_an_operators_pattern_runs_in_linear_time_where_backtracking_takes_seconds():
    level_and_message = make("parse", format="regex", pattern=r"(?P<level>\w+): (?P<msg>.*)")

    assert elapsed(run, level_and_message, block("a" * SIZE)) < BUDGET


@pytest.mark.parametrize(("pattern", "reason"), [
    (r"(?<=user=)\w+", "lookaround"), (r"(?!x)y", "lookaround"), (r"(\w)\1", "backreferences"),
])
def test_a_pattern_re2_cannot_run_is_refused_with_its_reason(pattern, reason):
    with pytest.raises(ValueError, match=reason):
        compile_regex(pattern)


def test_a_lone_surrogate_is_matched_as_the_replacement_character():
    assert compile_regex("a\ufffdb").search("a\ud800b") is not None

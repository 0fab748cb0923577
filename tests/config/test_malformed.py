"""No configuration, however malformed, reaches a user as a traceback: `check` on documents shaped like
ours (known and unknown keys at every level, wrong types, nulls, lists where maps go and maps where
lists go) exits 0 or 2, and every error is one line naming a key."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipper.cli import main
from shipper.components import SINKS, SOURCES, TRANSFORMS

SCALARS = st.none() | st.booleans() | st.integers(-10, 10**10) | st.floats(allow_nan=False) | st.sampled_from(
    ["", "5s", "1KiB", "x", "/var/log/*.log", "127.0.0.1:1", "${UNSET_VARIABLE}", "{kubernetes.namespace}",
     "(?=x)", "[", "https://c.example/", "json", "gzip", "end"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["type", "inputs", "include", "start_pattern", "mode", "field", "regex", "x", "all", "not"]),
    inner, max_size=3), max_leaves=8)


def component(kinds: dict[str, object]) -> st.SearchStrategy[dict[str, object]]:
    def options(kind: str) -> st.SearchStrategy[dict[str, object]]:
        names = [*kinds[kind].options.model_fields, "unknown_key"]  # type: ignore[attr-defined]
        return st.dictionaries(st.sampled_from(names), VALUES, max_size=5).map(lambda found: {"type": kind, **found})
    return st.sampled_from(sorted(kinds)).flatmap(options)


DOCUMENTS = st.fixed_dictionaries({}, optional={
    "data_dir": SCALARS, "api": VALUES, "buffer": VALUES, "shutdown_timeout": SCALARS, "nonsense": VALUES,
    "sources": st.dictionaries(st.sampled_from(["app", "pods", "bad id"]), component(SOURCES) | VALUES, max_size=2),
    "transforms": st.dictionaries(st.sampled_from(["t1", "t2"]), component(TRANSFORMS) | VALUES, max_size=2),
    "sinks": st.dictionaries(st.sampled_from(["out", "cw"]), component(SINKS) | VALUES, max_size=2),
}) | VALUES


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_check_answers_any_document_with_exit_0_or_2_and_one_line_per_error(document):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "shipper.yaml"
        path.write_text(yaml.safe_dump(document))
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            code = main(["check", "--config", str(path)])  # an exception of ours fails the test here

    text = errors.getvalue()
    assert code in (0, 2), text
    assert "Traceback" not in text
    if code == 2:
        head, *lines = text.splitlines()
        assert head.endswith("configuration error(s)") or not lines, text
        assert all(line.startswith("  ") for line in lines if not line.startswith("warning:")), text

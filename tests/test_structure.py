"""Sizes a reader can hold in mind, and one delivery loop: no module under shipper/ over 450 lines, no
class over 300, and in sinks/ only the engine waits for records to be appended to the spool."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shipper"
MODULES = sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_450_lines():
    long = [(str(p.relative_to(ROOT)), n) for p in MODULES if (n := len(p.read_text().splitlines())) > 450]

    assert long == []


def test_no_class_is_over_300_lines():
    classes = [(str(p.relative_to(ROOT)), node.name, node.end_lineno - node.lineno + 1)
               for p in MODULES for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.ClassDef)]

    assert [c for c in classes if c[2] > 300] == []


def test_only_the_engine_waits_for_appends_in_the_sinks():
    waiting = sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "sinks").rglob("*.py")
                     if "wait_for_append" in p.read_text())

    assert waiting == ["sinks/engine.py"]

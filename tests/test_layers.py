"""The import graph has layers: the registry, the agent and the CLI on top; the components (`sources/`,
`transforms/`, `sinks/`) under them, each kind ignorant of the others; `config/`, `buffer/`, `observe/`
and the shared helpers at the bottom, knowing components only through base classes. Checked by walking
every import, lazy ones included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shipper"
BOTTOM = ("shipper.config", "shipper.buffer", "shipper.observe", "shipper.text", "shipper.regex", "shipper.backoff",
          "shipper.severity", "shipper.record", "shipper.templates", "shipper.times", "shipper.layouts",
          "shipper.parsers", "shipper.kernels")
COMPONENTS = ("shipper.sources", "shipper.transforms", "shipper.sinks")
TOP = ("shipper.components", "shipper.agent", "shipper.cli", "shipper.api", "shipper.status", "shipper.tap",
       "shipper.import_offsets", "shipper.translate",
       "shipper.top", "shipper.reference", "shipper.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every shipper module a file imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("shipper")}


GRAPH = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for name in GRAPH.get(todo.pop(), ()):
            if name in GRAPH and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def within(name: str, layers: tuple[str, ...]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if within(m, BOTTOM)))
def test_the_bottom_layers_never_reach_a_component_or_the_top(module):
    above = sorted(name for name in reachable(module) if within(name, COMPONENTS + TOP))

    assert above == [], f"{module} imports (directly or through others) {above}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if within(m, COMPONENTS)))
def test_components_never_import_the_top_or_each_others_kind(module):
    other_kinds = tuple(kind for kind in COMPONENTS if not within(module, (kind,)))

    wrong = sorted(name for name in GRAPH[module] if within(name, (*TOP, *other_kinds)))

    assert wrong == [], f"{module} imports {wrong}"


def test_the_walk_sees_lazy_imports():
    assert "shipper.api" in GRAPH["shipper.agent"]  # imported inside a method, only when configured


SHARED_BY_SINKS = ("shipper.sinks.base", "shipper.sinks.engine", "shipper.sinks.batching", "shipper.sinks.acks",
                   "shipper.sinks.retry", "shipper.sinks.encoding", "shipper.sinks.cutting", "shipper.sinks.aws",
                   "shipper.sinks.http_client")


def sink_package(module: str) -> str | None:
    """`shipper.sinks.<name>` for a module of one sink's folder; None for what the sinks share."""
    parts = module.split(".")
    if len(parts) < 3 or parts[1] != "sinks" or within(module, SHARED_BY_SINKS):
        return None
    return ".".join(parts[:3])


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if sink_package(m) is not None))
def test_a_sink_never_imports_another_sink(module):
    own = sink_package(module)

    others = sorted(name for name in GRAPH[module] if sink_package(name) not in (None, own))

    assert others == [], f"{module} imports {others}"


def test_the_shared_sink_modules_import_no_sink():
    shared = [m for m in GRAPH if within(m, SHARED_BY_SINKS)]

    assert shared and not any(sink_package(name) for m in shared for name in reachable(m))

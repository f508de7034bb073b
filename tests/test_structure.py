"""The code's shape as issue "One runtime per paradigm over two transports" asks it to stay: no
module over 600 lines, and no import cycle between the project's modules (imports inside functions
included: a lazy import that closes a circle is still a circle; the packages' __init__ facades,
which every submodule import runs, are left out)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"planner": "edgeplan", "models": "edgeplan.models", "validation": "edgeplan.validation"}


def _modules() -> dict[str, Path]:
    out = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = package.split(".") + list(path.relative_to(ROOT / folder).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules and n != name and modules[n].name != "__init__.py"}
    return found


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_no_module_over_600_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, f"split these modules: {long}"


def test_no_import_cycles():
    modules = _modules()
    assert "edgeplan.scenario" in modules and "edgeplan.validation.engine" in modules
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_edges_from((name, other) for other in _imports(name, path, modules))
    assert graph.number_of_edges() > 100            # the walk found the imports it is checking
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])

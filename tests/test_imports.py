"""The layout of the test tree: support and benchmark import without cycles.

Read from the source (ast), so that an import inside a function or under
`TYPE_CHECKING` counts as well: either still ties the two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Return every module `path` imports, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def graph(*folders: str) -> dict[str, set[str]]:
    """Return module → the modules of the same folders it imports."""
    paths = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    names = {module_name(p): p for p in paths}
    return {name: imports_of(path) & set(names) - {name} for name, path in names.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return one path per cycle found by a depth-first walk."""
    found, done, stack = [], set(), []

    def visit(node: str) -> None:
        if node in stack:
            found.append([*stack[stack.index(node) :], node])
            return
        if node in done:
            return
        stack.append(node)
        for target in sorted(edges[node]):
            visit(target)
        stack.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node)
    return found


def test_the_test_support_and_the_benchmark_have_no_import_cycle() -> None:
    edges = graph("tests/support", "tests/bench")
    assert "tests.support.feedserver" in edges and "tests.bench.world" in edges
    assert cycles(edges) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b", "a"]]


def test_the_product_never_imports_the_tests() -> None:
    for folder in ("poller", "api"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not {i for i in imports_of(path) if i.split(".")[0] == "tests"}, path

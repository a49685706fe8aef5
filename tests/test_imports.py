"""The import graph of kpi_pipeline and connectors, read from the sources (ast), not by importing.

Every import counts: at the top of a module, inside a function, under ``if TYPE_CHECKING``.
Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``: for Dagster a module reaches
what its parent packages import too (a package's ``__init__`` importing its own modules, as
``connectors.sandbox`` does, is not a circle). Three rules (issue 23 §1):

- no import circle between modules (a circle hidden by an import inside a function is one);
- the KPI core and the warehouse (``CORE``) never import Dagster, not even through another module;
- an import inside a function says why it is late: a ``late:`` comment on its line or on the
  comment line just above its block of imports, naming the start-up cost it saves.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kpi_pipeline", "connectors")

# The KPI core and the warehouse, package by package (README "Layout"): configuration, KPI
# semantics, the SQL models, the warehouse, what the pipeline asks of the platforms, reporting,
# and the connectors. Not in it: orchestration (Dagster's layer), portfolio (a business's code
# location is Dagster's) and cli (its commands start Dagster runs); event_log is Dagster's class.
CORE = (
    "kpi_pipeline",
    *(
        f"kpi_pipeline.{package}{sub}"
        for package in ("config", "kpi", "sql", "warehouse", "sources", "reporting")
        for sub in ("", ".*")
    ),
    "connectors",
    "connectors.*",
)


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's __init__)."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _imported(
    name: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]
) -> list[str]:
    """The modules one import statement names (``from a import b`` names a.b when it is a
    module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's package up
        package = name.split(".") if is_package else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def _late_reason(lines: list[str], lineno: int) -> bool:
    """A ``late:`` comment on the import's line, or in the comments just above
    its block of imports."""
    if "# late:" in lines[lineno - 1]:
        return True
    i = lineno - 2
    while i >= 0 and lines[i].strip().startswith(("import ", "from ", "#")):
        if "# late:" in lines[i]:
            return True
        i -= 1
    return False


def walk(
    root: Path, packages: tuple[str, ...] = PACKAGES
) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]], list[str]]:
    """Returns (module -> our modules it imports, module -> its parent packages, module -> outside
    top-level packages it imports, function-level imports without a ``late:``
    reason as "file:line")."""
    mods = modules(root, packages)
    ours: dict[str, set[str]] = {m: set() for m in mods}
    parents: dict[str, set[str]] = {m: set() for m in mods}
    outside: dict[str, set[str]] = {m: set() for m in mods}
    unexplained = []
    for name, (path, is_package) in mods.items():
        parent = name.rsplit(".", 1)[0] if "." in name else None
        while parent:  # importing a.b.c runs a/__init__ and a/b/__init__ first
            parents[name].add(parent)
            parent = parent.rsplit(".", 1)[0] if "." in parent else None
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text)
        in_function = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                in_function.update(id(n) for n in ast.walk(fn))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if id(node) in in_function and not _late_reason(lines, node.lineno):
                unexplained.append(f"{path.relative_to(root)}:{node.lineno}")
            for target in _imported(name, is_package, node, set(mods)):
                top = target.split(".")[0]
                if top not in packages:
                    outside[name].add(top)
                    continue
                while target not in mods and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != name:
                    ours[name].add(target)
    return ours, parents, outside, unexplained


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or round a circle (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def path_to(graph: dict[str, set[str]], start: str, goal) -> list[str] | None:
    """The shortest chain of imports from ``start`` to a module satisfying ``goal`` (or None)."""
    seen, queue = {start: [start]}, [start]
    while queue:
        v = queue.pop(0)
        if goal(v):
            return seen[v]
        for w in sorted(graph.get(v, ())):
            if w not in seen:
                seen[w] = seen[v] + [w]
                queue.append(w)
    return None


def core_modules(mods) -> list[str]:
    out = []
    for pattern in CORE:
        if pattern.endswith(".*"):
            out += [m for m in mods if m.startswith(pattern[:-1])]
        else:
            assert pattern in mods, f"CORE names {pattern}, which does not exist: update the list"
            out.append(pattern)
    return sorted(set(out))


@pytest.fixture(scope="module")
def graph():
    return walk(ROOT)


def test_no_import_circle(graph):
    ours, _, _, _ = graph
    found = circles(ours)
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_core_never_imports_dagster(graph):
    ours, parents, outside, _ = graph
    core = core_modules(ours)
    assert "kpi_pipeline.sql.models" in core and "kpi_pipeline.warehouse.database" in core
    reach = {m: ours[m] | parents[m] for m in ours}
    bad = {}
    for module in core:
        chain = path_to(reach, module, lambda m: any(t.startswith("dagster") for t in outside[m]))
        if chain:
            bad[module] = " -> ".join(chain) + " -> dagster"
    assert not bad, "the core imports Dagster:\n" + "\n".join(bad.values())


def test_every_late_import_says_why(graph):
    _, _, _, unexplained = graph
    assert not unexplained, (
        "imports inside functions without a `# late:` reason (move them to the top, "
        "or name the start-up cost they save): " + ", ".join(unexplained)
    )


def test_the_walk_sees_a_circle_hidden_in_a_function(tmp_path):
    """The walker itself: a circle broken by an import inside a function, a TYPE_CHECKING one, and
    Dagster reached through another module and through a package's __init__."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import x\n")
    (pkg / "b.py").write_text("x = 1\n\n\ndef f():\n    from pkg import a\n    return a\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import y\n"
    )
    (pkg / "d.py").write_text("from . import c\ny = 2\n")
    (pkg / "sub" / "__init__.py").write_text("import dagster\n")
    (pkg / "sub" / "e.py").write_text("")
    (pkg / "f.py").write_text("def g():\n    # late: a reason\n    from pkg.sub.e import nothing\n")
    ours, parents, outside, unexplained = walk(tmp_path, ("pkg",))
    assert circles(ours) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]
    reach = {m: ours[m] | parents[m] for m in ours}
    assert path_to(reach, "pkg.f", lambda m: "dagster" in outside[m]) == [
        "pkg.f",
        "pkg.sub.e",
        "pkg.sub",
    ]
    assert unexplained == ["pkg/b.py:5"]

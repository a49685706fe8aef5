"""Every test the README names exists, and every sabotage `make prove` applies names tests that do.

The README's guarantee table says which test proves what; a renamed or never-written test would
leave a guarantee claimed with nothing behind it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMED = re.compile(r"(tests/[\w/]+\.py)?::(\w+)|(tests/[\w/]+\.py)")


def defined_tests(path: Path) -> set[str]:
    """The names of the module-level test functions (and test classes) of a test file."""
    tree = ast.parse(path.read_text())
    return {
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def named_in_readme() -> list[tuple[str, str | None]]:
    """(file, test or None) for every `tests/x.py` and `tests/x.py::name` of the README. A bare
    `::name` belongs to the last file named before it in the same table cell or paragraph line."""
    found = []
    for line in (ROOT / "README.md").read_text().splitlines():
        for cell in line.split(" | "):
            last = None
            for match in NAMED.finditer(cell):
                if match[3]:
                    last = match[3]
                    found.append((last, None))
                    continue
                last = match[1] or last
                assert last, f"README names ::{match[2]} without its file: {cell[:120]}"
                found.append((last, match[2]))
    return found


def test_every_test_the_readme_names_exists():
    named = named_in_readme()
    assert len([n for n in named if n[1]]) >= 20  # the guarantee table was read
    missing = []
    for file, name in named:
        path = ROOT / file
        if not path.exists() or (name and name not in defined_tests(path)):
            missing.append(f"{file}::{name}" if name else file)
    assert not missing, f"the README names tests that do not exist: {missing}"


def test_every_sabotage_names_existing_tests_and_is_in_the_readme():
    from prove.sabotages import SABOTAGES

    readme = (ROOT / "README.md").read_text()
    for sabotage in SABOTAGES:
        assert sabotage.name in readme, (
            f"README's guarantee table lacks the sabotage {sabotage.name!r}"
        )
        for node in sabotage.tests:
            file, _, name = node.partition("::")
            assert name in defined_tests(ROOT / file), f"{sabotage.name}: no test {node}"
            assert node in readme, f"README does not name {node} beside its guarantee"
        for file, old, _ in sabotage.edits:  # a sabotage that no longer applies proves nothing
            assert (ROOT / file).read_text().count(old) == 1, (
                f"{sabotage.name}: {old!r} not once in {file}"
            )

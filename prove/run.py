"""`make prove`: break each guarantee on purpose and check that its tests catch it.

For each sabotage of prove/sabotages.py: copy the code (the files git knows, as they are in the
working tree) to a scratch folder, apply the sabotage's edits there, run its tests with this
project's Python, and expect them to fail. The working tree is never touched. Prints a table
guarantee | sabotage | test | caught, and exits 1 if any sabotage went unnoticed (or no longer
applies). ``python prove/run.py WORD`` runs only the sabotages whose guarantee or name has WORD.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prove.sabotages import SABOTAGES, Sabotage  # noqa: E402


def scratch_copy(dest: Path) -> None:
    """The files git tracks or would track (untracked but not ignored), as they are now."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def apply(copy: Path, sabotage: Sabotage) -> str | None:
    """Apply the edits; a problem in words when one no longer matches exactly once."""
    for file, old, new in sabotage.edits:
        path = copy / file
        text = path.read_text()
        if text.count(old) != 1:
            return f"{file}: the text to sabotage is found {text.count(old)} times, not once"
        path.write_text(text.replace(old, new))
    return None


def run_test(copy: Path, test: str, extra: dict[str, str]) -> tuple[bool, str]:
    """Run one test in the copy; (caught, the first error lines and the last lines)."""
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1", **extra}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--basetemp",
            str(copy.parent / "pytest"),
            test,
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    errors = [line for line in done.stdout.splitlines() if line.startswith("E ")][:2]
    tail = "\n".join(errors + done.stdout.strip().splitlines()[-2:])
    # 1: tests failed. 0 passed, 5 none collected (a renamed test), else pytest itself broke:
    # not caught
    return done.returncode == 1, tail


def main(argv: list[str]) -> int:
    chosen = [
        s
        for s in SABOTAGES
        if not argv or any(w.lower() in (s.guarantee + s.name).lower() for w in argv)
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="kpi-prove-") as tmp:
        copy = Path(tmp) / "repo"
        scratch_copy(copy)
        check = subprocess.run(
            [sys.executable, "-c", "import kpi_pipeline; print(kpi_pipeline.__file__)"],
            cwd=copy,
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            text=True,
        )
        assert check.stdout.startswith(str(copy)), (
            f"the copy's code is not the one imported: {check.stdout}"
        )
        for sabotage in chosen:
            originals = {f: (copy / f).read_text() for f, _, _ in sabotage.edits}
            problem = apply(copy, sabotage)
            for test in sabotage.tests:
                if problem:
                    rows.append((sabotage, test, "no", problem))
                    continue
                print(f"... {sabotage.name}: {test}", file=sys.stderr, flush=True)
                caught, tail = run_test(copy, test, dict(sabotage.env))
                print(
                    "    " + tail.replace("\n", "\n    "), file=sys.stderr, flush=True
                )  # why it failed
                rows.append((sabotage, test, "yes" if caught else "no", "" if caught else tail))
            for f, text in originals.items():
                (copy / f).write_text(text)
    print("| guarantee | sabotage | test | caught |\n| --- | --- | --- | --- |")
    for sabotage, test, caught, _ in rows:
        print(f"| {sabotage.guarantee} | {sabotage.name} | `{test}` | {caught} |")
    missed = [(s, t, why) for s, t, c, why in rows if c != "yes"]
    for sabotage, test, why in missed:
        print(f"\nNOT CAUGHT: {sabotage.name}: {test}\n{why}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""`kpi demo --businesses N` as a user runs it, and the portfolio's reports on the 6th of a month.

One small portfolio demo (two sandbox businesses, Mailchimp only, from August) is synced once for
the module, from a project folder whose DAGSTER_HOME is the single business's (as the Makefile
exported it): the demo keeps to its own instance, its "next:" commands run as printed, and its
reports are one document per format. As of 6 October every KPI of October is too early to judge,
so the portfolio view falls back to September, closed, and says so. Truth comes from plain SQL on
the businesses' snapshots and from Dagster's own instances, never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import dagster as dg
import duckdb
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
AS_OF6 = dt.date(2026, 10, 6)  # the 6th: October too early, September closed
SEPTEMBER, OCTOBER = "2026-09", "2026-10"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DAGSTER_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _small_businesses(demo: Path) -> list[str]:
    """The demo's first two businesses, written before it runs (the demo keeps a kpi.yaml it
    finds): Mailchimp only, from August, so that the sync is small."""
    from kpi_pipeline.portfolio.demo import SOURCE_KPIS, kpi_yaml, template

    slugs = []
    for i in range(2):
        t = template(i)
        doc = kpi_yaml(t, AS_OF6)
        doc.update(history_start="2026-08-01", sources={"mailchimp": {}})
        doc["targets"] = {k: v for k, v in doc["targets"].items() if k in SOURCE_KPIS["mailchimp"]}
        doc.pop("custom_kpis", None)
        folder = demo / "businesses" / t.slug
        folder.mkdir(parents=True)
        (folder / "kpi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        slugs.append(t.slug)
    return slugs


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A project folder (kpi.yaml, .venv) where `.venv/bin/kpi demo --businesses 2 --dir
    portfolio-demo` ran with DAGSTER_HOME at the project's .dagster, as the Makefile exports it."""
    project = tmp_path_factory.mktemp("project")
    (project / "kpi.yaml").write_text("business: Single Salon\ndemo: true\n")
    (project / ".venv").symlink_to(ROOT / ".venv")
    single = project / ".dagster"
    single.mkdir()
    with dg.DagsterInstance.from_config(str(single)):  # the single business's instance exists
        pass
    slugs = _small_businesses(project / "portfolio-demo")
    env = _env(DAGSTER_HOME=str(single), KPI_AS_OF=AS_OF6.isoformat(), KPI_TODAY="2026-10-07")
    run = subprocess.run(
        [".venv/bin/kpi", "demo", "--businesses", "2", "--dir", "portfolio-demo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return {"project": project, "root": project / "portfolio-demo", "slugs": slugs, "run": run}


def kpi(root: Path, *args: str, tty: bool = False) -> subprocess.CompletedProcess:
    """``kpi ARGS`` in the portfolio folder; ``tty``: its stdout a terminal."""
    command = [sys.executable, "-m", "kpi_pipeline.cli", *args]
    if not tty:
        return subprocess.run(
            command, cwd=root, env=_env(), capture_output=True, text=True, timeout=600
        )
    leader, follower = pty.openpty()
    with subprocess.Popen(
        command, cwd=root, env=_env(), stdout=follower, stderr=subprocess.PIPE, text=True
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        err = proc.stderr.read() if proc.stderr else ""
        code = proc.wait()
    out = b"".join(chunks).decode().replace("\r\n", "\n")
    return subprocess.CompletedProcess(command, code, out, err)


def instance_holds(home: Path) -> tuple[list[dg.DagsterRun], list[dg.AssetKey]]:
    """The runs and the materialized assets of the instance in ``home``, read by Dagster."""
    if not home.exists():
        return [], []
    with (
        mock.patch.dict(os.environ, DAGSTER_HOME=str(home)),  # kpi's event log storage reads it
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        return list(instance.get_runs()), list(instance.get_asset_keys())


# ---------------------------------------------------------------------------- instances


def test_the_portfolio_demo_keeps_its_runs_in_its_own_instance(demo):
    project, root, slugs = demo["project"], demo["root"], demo["slugs"]
    runs, assets = instance_holds(root / ".dagster")
    assert len(runs) >= len(slugs) and assets, demo["run"].stdout[-3000:]
    assert {run.tags.get("kpi/as_of") for run in runs} == {AS_OF6.isoformat()}
    assert instance_holds(project / ".dagster") == ([], [])  # the single business's: untouched
    assert not (project / ".dagster" / "workspace.yaml").exists()


def test_make_demo_portfolio_gives_the_demo_its_instance(tmp_path):
    """The Makefile's target, with a stand-in `.venv/bin/kpi` that prints what it was given."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    os.utime(tmp_path / "pyproject.toml", (0, 0))
    (tmp_path / ".venv" / ".installed").write_text("")
    fake = bin_dir / "kpi"
    fake.write_text('#!/bin/sh\necho "DAGSTER_HOME=$DAGSTER_HOME args=$*"\n')
    fake.chmod(0o755)
    for env in (_env(), _env(DAGSTER_HOME=str(tmp_path / ".dagster"))):
        made = subprocess.run(
            ["make", "-s", "-f", str(ROOT / "Makefile"), "demo-portfolio"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        assert f"DAGSTER_HOME={tmp_path}/portfolio-demo/.dagster args=demo" in made.stdout


def test_kpi_demo_leaves_the_single_business_instance_alone(tmp_path, monkeypatch):
    from kpi_pipeline.cli.portfolio import demo_instance

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KPI_CONFIG", raising=False)
    root = tmp_path / "portfolio-demo"
    for given, expected in (
        (None, root / ".dagster"),  # unset
        (str(tmp_path / ".dagster"), root / ".dagster"),  # the single business's default
        ("/srv/kpi/portfolio-instance", Path("/srv/kpi/portfolio-instance")),  # chosen: kept
    ):
        if given is None:
            monkeypatch.delenv("DAGSTER_HOME", raising=False)
        else:
            monkeypatch.setenv("DAGSTER_HOME", given)
        demo_instance(root)
        assert Path(os.environ["DAGSTER_HOME"]) == expected, given


# ---------------------------------------------------------------------------- the hint


def test_the_next_commands_run_as_printed_from_where_the_demo_ran(demo):
    lines = demo["run"].stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("next: "))
    commands = [lines[start].removeprefix("next: ")]
    commands += [line.strip() for line in lines[start + 1 :] if line.startswith("      ")]
    assert len(commands) == 2, lines[start:]
    for command in commands:
        done = subprocess.run(
            ["sh", "-c", command],
            cwd=demo["project"],
            env=_env(PATH="/usr/bin:/bin"),  # no kpi on PATH, as after `make demo-portfolio`
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        assert demo["slugs"][0] in done.stdout or "Newsletter" in done.stdout


# ---------------------------------------------------------------------------- the view


def truth(root: Path, slug: str, start: str, statuses: tuple[str, ...]) -> dict[str, dict]:
    """Per domain, the number of the business's month KPIs per status, by plain SQL."""
    path = root / "businesses" / slug / "data" / "analytics.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select c.domain, s.status, count(*) from snapshots.kpi_snapshots s join kpis.catalog "
            "c using (business_id, kpi_id) where s.grain = 'month' and s.period_start = ? "
            "group by all",
            [dt.date.fromisoformat(start + "-01")],
        ).fetchall()
    out: dict[str, dict] = {}
    for domain, status, n in rows:
        out.setdefault(domain, dict.fromkeys(statuses, 0))
        if status in statuses:
            out[domain][status] = n
    return out


def final(root: Path, slug: str, start: str) -> bool:
    """Whether every month KPI achieved or missed in the period is final, by plain SQL."""
    path = root / "businesses" / slug / "data" / "analytics.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select bool_and(is_final) from snapshots.kpi_snapshots where grain = 'month' and "
            "period_start = ? and status in ('achieved', 'missed')",
            [dt.date.fromisoformat(start + "-01")],
        ).fetchone()[0]


def test_on_the_6th_the_view_shows_the_closed_month_and_says_so(demo):
    root = demo["root"]
    shown = kpi(root, "report", "--portfolio", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    rows = {r["slug"]: r for r in json.loads(shown.stdout)["businesses"]}
    for slug in demo["slugs"]:
        october = truth(root, slug, OCTOBER, ("on_track", "at_risk", "off_track"))
        assert not any(sum(c.values()) for c in october.values())  # too early, every KPI
        september = truth(root, slug, SEPTEMBER, ("achieved", "missed"))
        assert any(sum(c.values()) for c in september.values())
        row = rows[slug]
        assert row["as_of"] == AS_OF6.isoformat() and row["closed"] is True
        assert row["period"] == SEPTEMBER and row["current_period"] == OCTOBER
        assert row["counts"] == september
        assert row["final"] is final(root, slug, SEPTEMBER)
        assert ("not final yet" in row["period_name"]) is not row["final"]
        assert re.match(r"September 2026 \(closed.*; October too early\)", row["period_name"])
    table = kpi(root, "report", "--portfolio")
    assert table.returncode == 0, table.stderr
    (name,) = {row["period_name"] for row in rows.values()}  # said once, above the table
    assert f"Period: {name}\n" in table.stdout and table.stdout.count("September 2026") == 1
    assert "0/0/0" not in table.stdout and "achieved / missed" in table.stdout
    for slug in demo["slugs"]:
        counts = rows[slug]["counts"]["marketing"]
        line = next(line for line in table.stdout.splitlines() if line.startswith(slug))
        cell = "Sep 2026 final" if rows[slug]["final"] else "Sep 2026 closed"
        assert cell in line and f"{counts['achieved']}/{counts['missed']}" in line, line
    assert max(len(line) for line in table.stdout.splitlines()) <= 120, table.stdout


def loaded_through(root: Path, slug: str) -> dict[str, dt.date]:
    """Per source, the last day all its streams were loaded through, by plain SQL on raw._loads."""
    path = root / "businesses" / slug / "data" / "analytics.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(
            con.execute(
                "select source, min(last) from (select source, stream, max(window_end) as last "
                "from raw._loads group by all) group by source"
            ).fetchall()
        )


def test_sources_behind_count_to_the_reports_as_of_not_the_wall_clock(demo):
    """As of 6 October (the wall clock two months on), a source loaded through the 6th is not
    behind: days behind count to the as-of the report shows, asked for or the demo's own."""
    root = demo["root"]
    assert dt.date.today() > AS_OF6 + dt.timedelta(days=2)  # the past, for the wall clock
    for asked in ((), ("--as-of", AS_OF6.isoformat()), ("--as-of", "2026-10-04")):
        shown = kpi(root, "report", "--portfolio", "--format", "json", *asked)
        assert shown.returncode == 0, shown.stderr
        upto = dt.date.fromisoformat(asked[1]) if asked else AS_OF6
        for row in json.loads(shown.stdout)["businesses"]:
            through = loaded_through(root, row["slug"])
            assert through and row["freshness"], row
            for fresh in row["freshness"]:
                expected = min(through[fresh["source"]], upto)
                assert fresh["through"] == expected.isoformat(), (asked, fresh)
                assert fresh["days_behind"] == (upto - expected).days, (asked, fresh)
    printed = demo["run"].stdout  # the demo's own view, as of the 6th
    assert not re.search(r"mailchimp \d+d", printed), printed[-3000:]


def test_the_portfolio_page_has_the_demo_banner_and_the_fallback_label(demo):
    from kpi_pipeline.reporting.i18n import Formatter

    page = (demo["root"] / "data" / "reports" / "portfolio.html").read_text()
    assert f'class="banner" role="note">{Formatter("en").t("demo_banner")}</p>' in page
    assert "September 2026 (closed" in page and "October too early" in page
    assert " achieved</span>" in page


# ---------------------------------------------------------------------------- formats


def test_machine_formats_are_one_document_without_headers(demo):
    root, (first, second) = demo["root"], demo["slugs"]
    one = kpi(root, "report", "--business", first, "--format", "json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["as_of"] == AS_OF6.isoformat()  # that business's document
    both = kpi(root, "report", "--business", first, "--business", second, "--format", "json")
    assert both.returncode == 0, both.stderr
    assert [d["slug"] for d in json.loads(both.stdout)["businesses"]] == [first, second]
    every = kpi(root, "report", "--format", "json")
    assert len(json.loads(every.stdout)["businesses"]) == 2
    for args in (("--portfolio",), ("--portfolio", "--business", first)):
        view = kpi(root, "report", *args, "--format", "json")
        assert view.returncode == 0 and json.loads(view.stdout)["businesses"], view.stderr
    for fmt in ("markdown", "html"):
        out = kpi(root, "report", "--business", first, "--format", fmt)
        assert out.returncode == 0 and "==" not in out.stdout.splitlines()[0], out.stdout[:200]
    md = kpi(root, "report", "--format", "markdown")
    assert "== " not in md.stdout and md.stdout.count("\n# ") + md.stdout.startswith("# ") == 2
    table = kpi(root, "report", "--business", first)
    assert table.stdout.startswith(f"== {first} ==")  # the terminal's table keeps its header


def test_html_on_a_terminal_is_written_to_a_file_and_piped_html_is_printed(demo):
    root, first = demo["root"], demo["slugs"][0]
    scorecard = root / "businesses" / first / "data" / "reports" / "scorecard.html"
    scorecard.unlink()
    on_screen = kpi(root, "report", "--business", first, "--format", "html", tty=True)
    assert on_screen.returncode == 0, on_screen.stderr
    assert on_screen.stdout.strip() == f"wrote {scorecard}" and "<html" not in on_screen.stdout
    assert scorecard.read_text().lstrip().startswith("<!doctype html>")
    scorecard.unlink()  # a business alone (its kpi.yaml, no portfolio): the same
    alone = kpi(
        root, "report", "--config", f"businesses/{first}/kpi.yaml", "--format", "html", tty=True
    )
    assert alone.stdout.strip() == f"wrote {scorecard}" and scorecard.exists(), alone.stdout[:300]
    piped = kpi(root, "report", "--business", first, "--format", "html")
    assert piped.stdout.lstrip().startswith("<!doctype html>")
    view = root / "data" / "reports" / "portfolio.html"
    view.unlink()
    on_screen = kpi(root, "report", "--portfolio", "--format", "html", tty=True)
    assert on_screen.stdout.strip() == f"wrote {view}" and view.exists(), on_screen.stdout[:300]
    assert kpi(root, "report", "--portfolio", "--format", "html").stdout.startswith("<!doctype")
    past = kpi(
        root, "report", "--business", first, "--format", "html", "--period", SEPTEMBER, tty=True
    )
    assert past.stdout.strip().endswith(f"scorecard-{SEPTEMBER}.html"), past.stdout

"""Each KPI's verdict as an asset check on the snapshots (issue 24 §5): a Dagster run over the
sandbox, its check evaluations compared with the snapshot rows read by plain SQL.

As of Tuesday 3 November the month is too early to judge, so a month KPI's check judges October;
a week target is judged in the current week (two of its seven days gone: not too early). The
period each check judges is derived here from the calendar, not from the code under test.
"""

import datetime as dt
import io

import dagster as dg
import duckdb
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.defs import build_definitions
from kpi_pipeline.orchestration.run import run_pipeline
from tests import expected_kpis
from tests.conftest import business_copy, live_environment, subset_config, write_config

AS_OF = dt.date(2026, 11, 3)  # a Tuesday: November 10% gone (too early), week 45 2 of 7 days
HISTORY_START = dt.date(2026, 9, 1)
SOURCES = ["stripe", "mailchimp"]
TARGETS = {
    "revenue": {"month": 1},  # October achieved
    "orders": {"month": 1_000_000},  # October missed
    "newsletter_new_subscribers": {"week": 1_000_000},  # week 45 off track
    "email_open_rate": {"quarter": 0.01},
    "newsletter_subscribers": {"month": 1},
}
WEEK_START = dt.date(2026, 11, 2)
CURRENT = {"month": dt.date(2026, 11, 1), "week": WEEK_START, "quarter": dt.date(2026, 10, 1)}
PASSING = {"on_track", "achieved", "too_early", "no_target", "partial"}
FIGURES = ("actual", "target", "expected_to_date", "projected", "attainment")
SNAPSHOTS = ("snapshots", "kpi_snapshots")


@pytest.fixture(scope="module")
def checked(sandbox, tmp_path_factory):
    """Stripe and Mailchimp synced through Dagster as of 3 Nov; the run's check evaluations,
    the snapshots' materialization and the warehouse's path."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("kpi_checks")
    live_environment(mp, sandbox, folder)
    targets = "".join(
        f"  {kpi}: {{{grain}: {value}}}\n"
        for kpi, by_grain in TARGETS.items()
        for grain, value in by_grain.items()
    )
    settings = load_config(
        subset_config(folder, sandbox, SOURCES, HISTORY_START, extra=f"targets:\n{targets}")
    )
    out = io.StringIO()
    outcome = run_pipeline(settings, AS_OF, start=HISTORY_START, end=AS_OF, out=out)
    assert outcome.success, out.getvalue()
    # a missed KPI is no failed check in the sync's progress: its verdict is the scorecard's
    assert "check kpi_" not in out.getvalue()
    with dg.DagsterInstance.get() as instance:
        evaluations = kpi_evaluations(instance, outcome.run_id, dg.AssetKey(list(SNAPSHOTS)))
        (snapshots,) = [
            e.dagster_event.event_specific_data.materialization
            for e in instance.all_logs(
                outcome.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            )
            if e.dagster_event.event_specific_data.materialization.asset_key.path == list(SNAPSHOTS)
        ]
    yield evaluations, snapshots, settings.warehouse_path, settings.config_path
    mp.undo()


def kpi_evaluations(instance, run_id: str, snapshots: dg.AssetKey) -> dict:
    """The run's check evaluations on ``snapshots`` but sources_fresh (not a KPI's), by name."""
    return {
        e.check_name: e
        for e in (
            log.dagster_event.event_specific_data
            for log in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        )
        if e.asset_key == snapshots and e.check_name != "sources_fresh"
    }


def judged_row(con, kpi: str) -> dict:
    """The row the owner asks about: the current period of the KPI's grain, the last closed one
    while the current one is too early (plain SQL on snapshots.kpi_snapshots)."""
    grain = next((g for g in ("month", "week", "quarter") if g in TARGETS.get(kpi, {})), "month")
    columns = ["period", "period_start", "status", "status_reason", "is_final", *FIGURES]
    query = (
        f"select {', '.join(columns)} from snapshots.kpi_snapshots where kpi_id = ? and grain = ?"
    )
    current = con.execute(f"{query} and period_start = ?", [kpi, grain, CURRENT[grain]]).fetchone()
    assert current is not None, kpi
    row = dict(zip(columns, current, strict=True))
    if row["status"] == "too_early":
        closed = con.execute(
            f"{query} and period_start < ? and is_closed order by period_start desc limit 1",
            [kpi, grain, CURRENT[grain]],
        ).fetchone()
        if closed is not None:
            row = dict(zip(columns, closed, strict=True))
    return {"grain": grain, **row}


def test_one_check_per_scored_kpi_passing_only_on_track_or_achieved_with_the_snapshots_figures(
    checked,
):
    evaluations, _, warehouse, _ = checked
    scored = expected_kpis.scored(SOURCES)
    assert set(evaluations) == {f"kpi_{kpi}" for kpi in scored}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = {kpi: judged_row(con, kpi) for kpi in scored}
    finally:
        con.close()
    for kpi, row in rows.items():
        check = evaluations[f"kpi_{kpi}"]
        md = {k: v.value for k, v in check.metadata.items()}
        assert check.passed == (row["status"] in PASSING), (kpi, row)
        assert check.severity == dg.AssetCheckSeverity.WARN, kpi
        assert (md["status"], md["period"], md["grain"], md["is_final"]) == (
            row["status"],
            row["period"],
            row["grain"],
            row["is_final"],
        ), kpi
        assert md["status_reason"] == (row["status_reason"] or ""), kpi
        for figure in FIGURES:
            assert md[figure] == pytest.approx(row[figure], nan_ok=True), (kpi, figure)
        if row["status"] == "no_data":
            assert row["status_reason"] and row["status_reason"] in check.description, kpi
    assert any(r["status"] == "no_data" for r in rows.values())  # a warning with its reason
    # the owner's question on 3 November: how October ended, how this week goes
    assert (rows["revenue"]["period"], rows["revenue"]["status"]) == ("2026-10", "achieved")
    assert (rows["orders"]["period"], rows["orders"]["status"]) == ("2026-10", "missed")
    assert rows["newsletter_new_subscribers"]["period"] == "2026-W45"
    assert evaluations["kpi_revenue"].passed and not evaluations["kpi_orders"].passed
    assert not evaluations["kpi_newsletter_new_subscribers"].passed
    assert "last closed" in evaluations["kpi_revenue"].description


def test_the_status_line_names_the_period_of_every_count(checked):
    _, snapshots, _, _ = checked
    status = snapshots.metadata["status"].value
    parts = status.split("; ")
    assert any(p.startswith("Month October 2026: ") and "missed" in p for p in parts), status
    assert any(p.startswith("Week 45 (2 Nov 2026): ") for p in parts), status
    assert all(p.startswith(("Month ", "Week ", "Quarter ", "Year ")) for p in parts), status
    assert "off_track" not in snapshots.metadata  # it counted every grain's periods at once


def test_a_run_of_one_source_of_two_judges_every_kpi_again(checked, tmp_path, monkeypatch):
    """`kpi sync --source stripe`: a subset run; the snapshots are rebuilt whole, so every KPI's
    check is evaluated, Mailchimp's too."""
    evaluations, *_, config = checked
    settings, _ = business_copy(config, tmp_path, monkeypatch)
    outcome = run_pipeline(settings, AS_OF, sources=["stripe"], out=io.StringIO())
    assert outcome.success
    with dg.DagsterInstance.get() as instance:
        again = kpi_evaluations(instance, outcome.run_id, dg.AssetKey(list(SNAPSHOTS)))
    assert set(again) == set(evaluations)
    assert {n: e.passed for n, e in again.items()} == {n: e.passed for n, e in evaluations.items()}


def two_source_config(folder):
    return write_config(
        folder,
        """\
        business: Two Sources
        demo: true
        history_start: 2026-10-01
        sources:
          stripe: {}
          mailchimp: {}
        """,
    )


def test_the_definitions_hold_a_check_per_kpi_of_the_configured_sources_only(tmp_path):
    graph = build_definitions(load_config(two_source_config(tmp_path))).resolve_asset_graph()
    on_snapshots = {
        c.name for c in graph.asset_check_keys if c.asset_key == dg.AssetKey(list(SNAPSHOTS))
    }
    assert on_snapshots == {"sources_fresh"} | {
        f"kpi_{kpi}" for kpi in expected_kpis.scored(SOURCES)
    }
    assert "kpi_website_visitors" not in on_snapshots  # GA4 is not configured: not scored


def test_a_portfolio_business_has_its_checks_on_its_own_snapshots(sandbox, tmp_path, monkeypatch):
    folder = tmp_path / "businesses" / "solo"
    folder.mkdir(parents=True)
    live_environment(monkeypatch, sandbox, tmp_path)
    settings = load_config(
        subset_config(
            folder,
            sandbox,
            ["stripe"],
            dt.date(2026, 10, 1),
            extra="targets:\n  orders: {month: 1000000}\n",
        )
    )
    assert settings.key_prefix == ["solo"]
    outcome = run_pipeline(
        settings, AS_OF, start=dt.date(2026, 10, 1), end=AS_OF, out=io.StringIO()
    )
    assert outcome.success
    snapshots = dg.AssetKey(["solo", *SNAPSHOTS])
    with dg.DagsterInstance.get() as instance:
        found = kpi_evaluations(instance, outcome.run_id, snapshots)
        latest = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(snapshots, "kpi_orders")
        )
    assert set(found) == {f"kpi_{k}" for k in expected_kpis.scored(["stripe"])}
    assert latest is not None and latest.run_id == outcome.run_id
    evaluation = latest.event.dagster_event.event_specific_data
    assert not evaluation.passed and evaluation.metadata["period"].value == "2026-10"


def test_a_too_early_period_without_a_closed_one_before_it_is_judged_and_passes(tmp_path):
    """The first month of a history: nothing closed to fall back on, nothing to act on yet."""
    import pandas as pd

    from kpi_pipeline.orchestration.kpi_checks import check_results, verdicts

    settings = load_config(two_source_config(tmp_path))
    row = {
        "kpi_id": "revenue",
        "grain": "month",
        "period": "2026-11",
        "period_start": dt.date(2026, 11, 1),
        "period_end": dt.date(2026, 11, 30),
        "status": "too_early",
        "status_reason": None,
        "is_closed": False,
        "is_final": False,
        **dict.fromkeys(FIGURES),
    }
    rows = pd.DataFrame(
        [row, {**row, "kpi_id": "orders", "status": "no_data", "status_reason": "x"}]
    )
    found = {v.kpi_id: v for v in verdicts(rows, settings, AS_OF)}
    assert set(found) == {"revenue", "orders"}  # KPIs without a row have no verdict to give
    results = {
        r.check_name: r for r in check_results(found.values(), {"kpi_revenue", "kpi_orders"})
    }
    assert (
        results["kpi_revenue"].passed
        and results["kpi_revenue"].metadata["period"].value == "2026-11"
    )
    assert not results["kpi_orders"].passed and results["kpi_orders"].description.endswith(": x")

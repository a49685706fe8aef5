"""A portfolio synced for real, a process per business: isolation, failures, the copy and the view.

Four businesses, each with values no other has (name, a custom KPI's label, a CSV dimension value,
its webhook's secret path, a Stripe key): two sandbox businesses on different seeded worlds, one
live business whose Stripe key is refused, one whose kpi.yaml is invalid. Truth comes from each
seed's sandbox world and from the CSV written here, never from the pipeline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import dagster as dg
import duckdb
import pytest

from connectors.sandbox.world import get_world
from tests.conftest import AS_OF
from tests.synced_portfolio import (
    MARKERS,
    OCT,
    SECRETS,
    lines_of,
    manual_rows,
    synced_portfolio,
)
from tests.webhook import Receiver


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory, sandbox):
    with synced_portfolio(tmp_path_factory.mktemp("pf"), sandbox) as synced:
        yield synced


def test_one_business_failing_or_misconfigured_stops_no_other(portfolio):
    sync = portfolio["sync"]
    out = sync.stdout
    assert sync.returncode == 1, out + sync.stderr
    assert "zebra: ok" in out and "quokka: ok" in out
    assert "yak: FAILED" in out and "broken: bad input" in out
    assert "targets.revenue: needs sources.stripe" in lines_of(out, "broken")
    yak = lines_of(out, "yak")
    assert "sources.stripe.api_key" in yak, yak
    root = portfolio["root"]
    for slug in (
        "zebra",
        "quokka",
        "yak",
    ):  # yak's Mailchimp loaded and its scorecard was refreshed
        assert (root / "businesses" / slug / "data" / "analytics.duckdb").exists(), slug
    assert list((root / "businesses" / "broken" / "data").iterdir()) == []  # nothing written
    failure = portfolio["hooks"]["yak"].texts()
    assert any("stripe" in text.lower() for text in failure), failure


def test_the_portfolio_copy_has_every_business_under_its_id_and_their_own_truth(portfolio):
    root = portfolio["root"]
    with duckdb.connect(str(root / "data" / "portfolio_analytics.duckdb"), read_only=True) as con:
        ids = {
            r[0]
            for r in con.execute("select distinct business_id from raw.mailchimp__lists").fetchall()
        }
        assert ids == {"zebra", "quokka", "yak"}
        listed = dict(
            con.execute("select business_id, in_copy from portfolio.businesses").fetchall()
        )
        assert listed == {"zebra": True, "quokka": True, "yak": True, "broken": False}
        value = lambda slug, kpi: con.execute(  # noqa: E731
            "select value from kpis.kpi_values where business_id = ? and kpi_id = ? and grain = "
            "'month' and period_start = ? and dimension is null",
            [slug, kpi, OCT[0]],
        ).fetchone()[0]
        truth7, truth11 = (get_world(AS_OF, seed).truth_new_subscribers(*OCT) for seed in (7, 11))
        assert truth7 != truth11  # two worlds: a mix-up would show
        assert value("zebra", "newsletter_new_subscribers") == truth7
        assert (
            value("yak", "newsletter_new_subscribers") == truth7
        )  # the live sandbox serves seed 7
        assert value("quokka", "newsletter_new_subscribers") == truth11
        october = sum(v for d, v in manual_rows() if OCT[0] <= d <= OCT[1])
        assert value("zebra", "zebra_loaves") == october == value("quokka", "quokka_smiles")
        assert (
            con.execute(
                "select count(*) from kpis.kpi_values where kpi_id = 'zebra_loaves' "
                "and business_id <> 'zebra'"
            ).fetchone()[0]
            == 0
        )
        nulls = [
            t
            for (s, t) in con.execute(
                "select schema_name, table_name from duckdb_tables()"
            ).fetchall()
            if con.execute(
                f'select count(*) from "{s}"."{t}" where business_id is null'
            ).fetchone()[0]
        ]
        assert not nulls


def _duckdb_text(path: Path) -> str:
    """Every cell of every table, as text."""
    parts = []
    with duckdb.connect(str(path), read_only=True) as con:
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables()"
        ).fetchall():
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            parts.append(f"{schema}.{table} " + repr(rows))
    return "\n".join(parts)


def _business_texts(
    root: Path, slug: str, output: str, hooks: dict[str, Receiver]
) -> dict[str, str]:
    """What one business produced: its output lines, its files (not its inputs), its alerts,
    its runs' logs."""
    texts = {"output": lines_of(output, slug), "alerts": json.dumps(hooks[slug].messages)}
    for path in (root / "businesses" / slug).rglob("*"):
        if not path.is_file() or path.name in ("kpi.yaml", ".env", "manual.csv"):
            continue
        texts[str(path)] = (
            _duckdb_text(path)
            if path.suffix == ".duckdb" and not path.name.startswith(".")
            else path.read_bytes().decode("utf-8", "replace")
        )
    with (
        mock.patch.dict(os.environ, DAGSTER_HOME=str(root / ".dagster")),
        dg.DagsterInstance.from_config(str(root / ".dagster")) as instance,
    ):
        for run in instance.get_runs():
            if {k.path[0] for k in run.asset_selection or ()} == {slug}:
                texts[f"run {run.run_id}"] = dg.serialize_value(run) + "\n".join(
                    dg.serialize_value(entry) for entry in instance.all_logs(run.run_id)
                )
    return texts


def test_nothing_of_one_business_reaches_another_and_no_secret_is_kept(portfolio):
    root, sync = portfolio["root"], portfolio["sync"]
    for slug in MARKERS:
        texts = _business_texts(root, slug, sync.stdout, portfolio["hooks"])
        assert any(k.startswith("run ") for k in texts) and len(texts) > 5, slug
        own_name = MARKERS[slug][0]
        assert any(own_name in t for t in texts.values()), slug  # the scan sees what it looks for
        for other, markers in MARKERS.items():
            if other == slug:
                continue
            for marker in markers:
                leaks = [where for where, text in texts.items() if marker in text]
                assert not leaks, f"{other}'s {marker!r} in {slug}'s {leaks}"
        for secret in SECRETS:
            leaks = [where for where, text in texts.items() if secret in text]
            assert not leaks, f"secret {secret!r} kept in {slug}'s {leaks}"
    everything = sync.stdout + sync.stderr
    assert not [s for s in SECRETS if s in everything]


def test_the_portfolio_view_puts_who_needs_a_call_first(portfolio):
    root, run = portfolio["root"], portfolio["run"]
    shown = run("report", "--portfolio", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["businesses"]
    assert [r["slug"] for r in rows][0] == "broken" and "kpi.yaml is invalid" in rows[0]["problem"]
    by = {r["slug"]: r for r in rows}
    assert {f["source"]: f["days_behind"] for f in by["yak"]["freshness"]}[
        "stripe"
    ] is None  # never loaded
    assert by["zebra"]["counts"]["production"] == {"on_track": 0, "at_risk": 0, "off_track": 1}
    assert by["zebra"]["period"] == "2026-11" and by["zebra"]["as_of"] == AS_OF.isoformat()
    # October missed and November off track: both sandbox businesses' custom KPI,
    # two periods running
    assert "Zebra loaves baked" in by["zebra"]["off_track_twice"]
    assert "Quokka smiles counted" in by["quokka"]["off_track_twice"]
    html = run("report", "--portfolio", "--format", "html", "--output", str(root / "view.html"))
    assert html.returncode == 0, html.stderr
    page = (root / "view.html").read_text()
    assert "Quokka Yoga &amp; &lt;Co&gt;" in page and "<Co>" not in page
    assert 'href="businesses/zebra/data/reports/scorecard.html"' in page
    table = run("report", "--portfolio")
    firsts = [line.split()[0] for line in table.stdout.splitlines() if line.strip()]
    assert table.returncode == 0 and firsts.index("broken") < firsts.index("zebra")  # the rows


def test_a_business_is_reported_alone_by_its_slug(portfolio):
    one = portfolio["run"]("report", "--business", "zebra", "--grain", "month")
    assert one.returncode == 0, one.stderr
    assert "Zebra loaves baked" in one.stdout
    assert not [m for m in MARKERS["quokka"] + MARKERS["yak"] if m in one.stdout]
    unknown = portfolio["run"]("report", "--business", "nobody")
    assert unknown.returncode == 2 and "--business: nobody not in" in unknown.stderr


def test_the_portfolio_location_rebuilds_the_copy_and_view_after_a_business_run(portfolio):
    from kpi_pipeline.portfolio.defs import JOB, portfolio_definitions

    root = portfolio["root"]
    copy = root / "data" / "portfolio_analytics.duckdb"
    copy.unlink()
    defs = portfolio_definitions(str(root))
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(JOB).execute_in_process(instance=instance)
        assert result.success
        with duckdb.connect(str(copy), read_only=True) as con:
            assert (
                con.execute("select count(*) from portfolio.businesses where in_copy").fetchone()[0]
                == 3
            )
        page = (root / "data" / "reports" / "portfolio.html").read_text()
        assert page.index("broken") < page.index("Zebra Bakery")
        sensor = defs.resolve_sensor_def("after_a_business_run")
        business_run = instance.create_run_for_job(dg.GraphDefinition("nightly").to_job())
        own_run = instance.get_run_by_id(result.run_id)
        outcomes = []
        for run in (business_run, own_run):
            event = dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)
            context = dg.build_run_status_sensor_context(
                sensor_name=sensor.name,
                dagster_event=event,
                dagster_instance=instance,
                dagster_run=run,
            )
            outcomes.append(sensor(context))
        assert isinstance(outcomes[0], dg.RunRequest) and business_run.run_id in outcomes[0].run_key
        assert isinstance(outcomes[1], dg.SkipReason)


def test_the_platforms_pool_limits_are_in_the_instance(portfolio):
    from kpi_pipeline.config.settings import API_POOL_LIMITS

    home = portfolio["root"] / ".dagster"
    with (
        mock.patch.dict(os.environ, DAGSTER_HOME=str(home)),
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        limits = {
            pool: instance.event_log_storage.get_concurrency_info(pool).slot_count
            for pool in API_POOL_LIMITS
        }
    assert (
        limits == {**API_POOL_LIMITS, "api_mailchimp": 1} and limits["api_meta"] == 2
    )  # the operator's kept
    assert "max_concurrent_runs: 2" in (home / "dagster.yaml").read_text()


def test_a_platforms_pool_keeps_its_calls_within_its_limit_across_businesses(portfolio):
    """Three businesses synced two at a time, Mailchimp's pool narrowed to one slot: no two
    Mailchimp steps of any businesses ever ran at once (from Dagster's own step events)."""
    home = portfolio["root"] / ".dagster"
    spans: list[tuple[float, float, str]] = []
    with (
        mock.patch.dict(os.environ, DAGSTER_HOME=str(home)),
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        for run in instance.get_runs(dg.RunsFilter(job_name="nightly")):
            starts: dict[str, float] = {}
            for entry in instance.all_logs(run.run_id):
                step, event = entry.step_key or "", entry.dagster_event
                if event is None or not step.startswith("raw__mailchimp"):
                    continue
                if event.event_type == dg.DagsterEventType.STEP_START:
                    starts[step] = entry.timestamp
                elif event.event_type in (
                    dg.DagsterEventType.STEP_SUCCESS,
                    dg.DagsterEventType.STEP_FAILURE,
                ):
                    spans.append((starts[step], entry.timestamp, f"{run.run_id[:8]} {step}"))
    assert (
        len({s[2].split()[0] for s in spans}) == 3 and len(spans) >= 18
    )  # 6 streams x 3 businesses
    spans.sort()
    overlaps = [(a[2], b[2]) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
    assert not overlaps

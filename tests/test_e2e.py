"""The whole graph on the sandbox through Dagster, checked against the world's ground truth.

The pipeline runs as in production: kpi.yaml with credentials from the environment and a
base_url, real HTTP through the official SDK, a persistent Dagster instance in a tmp
DAGSTER_HOME. Ground truth comes from the world's events, not from the API path.
"""

import datetime as dt
import io

import duckdb
import pytest

from connectors.registry import platforms
from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.run import run_pipeline
from tests import expected_kpis
from tests.conftest import AS_OF, business_copy
from tests.truth import level_known, periods, truth

HISTORY_START = dt.date(2026, 5, 1)
TIMESTAMPS = {"_synced_at", "computed_at", "loaded_at"}
ALL_SOURCES = list(platforms())


@pytest.fixture(scope="module")
def synced(sandbox, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("e2e")
    from tests.conftest import live_config_text, live_environment, write_config

    live_environment(mp, sandbox, folder)
    path = write_config(folder, live_config_text(sandbox, HISTORY_START))
    settings = load_config(path)
    out = io.StringIO()
    outcome = run_pipeline(settings, AS_OF, start=HISTORY_START, end=AS_OF, out=out)
    assert outcome.success, out.getvalue()
    yield settings, outcome, out.getvalue(), path
    mp.undo()


def kpi_values(settings):
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = con.execute(
        "select kpi_id, grain, period_start, value from kpis.kpi_values where dimension is null"
    ).fetchall()
    con.close()
    return {(k, g, s): v for k, g, s, v in rows}


ACTIVITY_FROM = AS_OF - dt.timedelta(days=179)  # Mailchimp's 180-day activity window


@pytest.mark.parametrize("grain", ["week", "month", "quarter"])
def test_every_newsletter_kpi_matches_ground_truth(synced, sandbox, grain):
    settings, *_ = synced
    values = kpi_values(settings)
    checked = 0
    for start, last in periods(grain, ACTIVITY_FROM, AS_OF):
        end = min(last, AS_OF)
        for kpi in sorted(expected_kpis.scored(ALL_SOURCES)):  # per-channel ones are checked below
            if kpi == "newsletter_cold_subscriber_share" and end != AS_OF:
                continue  # membership is only known for days the pipeline ran
            expected = truth(sandbox.world, kpi, start, end)
            if kpi == "newsletter_churn_rate" and not level_known(start - dt.timedelta(days=1)):
                expected = None  # its denominator, the opening level, cannot be known: no value
            actual = values.get((kpi, grain, start))
            if expected is None:
                assert actual is None, (kpi, grain, start)
            else:
                assert actual == pytest.approx(expected, rel=1e-12), (kpi, grain, start)
            checked += 1
    assert checked >= {"week": 400, "month": 100, "quarter": 25}[grain]


@pytest.mark.parametrize("grain", ["day", "week", "month", "quarter"])
def test_marketing_sales_and_custom_kpis_match_ground_truth(synced, sandbox, grain):
    settings, *_ = synced
    values = kpi_values(settings)
    marketing = sorted(expected_kpis.scored(ALL_SOURCES) - expected_kpis.BY_SOURCE["mailchimp"])
    checked = 0
    for start, last in periods(grain, HISTORY_START, AS_OF):
        end = min(last, AS_OF)
        for kpi in marketing:
            expected = truth(sandbox.world, kpi, start, end)
            if expected is None:
                assert values.get((kpi, grain, start)) is None, (kpi, grain, start)
            else:
                assert values.get((kpi, grain, start)) == pytest.approx(expected, rel=1e-9), (
                    kpi,
                    grain,
                    start,
                )
            checked += 1
    assert checked == {"day": 199 * 24, "week": 672, "month": 168, "quarter": 48}[grain]


def test_sales_by_product_and_units_per_product(synced, sandbox):
    settings, *_ = synced
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = {
        (k, v): x
        for k, v, x in con.execute(
            "select kpi_id, dimension_value, value from kpis.kpi_values where grain = 'month' "
            "and period_start = date '2026-10-01' and dimension = 'product'"
        ).fetchall()
    }
    con.close()
    truth_ = sandbox.world.truth_sales(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert {k: v for (kpi, k), v in rows.items() if kpi == "sales_by_product"} == pytest.approx(
        truth_["sales_by_product"]
    )
    assert {k: v for (kpi, k), v in rows.items() if kpi == "units_by_product"} == truth_[
        "units_by_product"
    ]


def test_a_months_visitors_are_fewer_than_the_sum_of_its_days(synced, sandbox):
    settings, *_ = synced
    values = kpi_values(settings)
    october = values[("website_visitors", "month", dt.date(2026, 10, 1))]
    days = sum(values[("website_visitors", "day", dt.date(2026, 10, d))] for d in range(1, 32))
    assert october == sandbox.world.web.users(dt.date(2026, 10, 1), dt.date(2026, 10, 31)) < days


def test_dimensions_channel_network_and_campaign(synced, sandbox):
    settings, *_ = synced
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = {
        (k, d, v): x
        for k, d, v, x in con.execute(
            "select kpi_id, dimension, dimension_value, value from kpis.kpi_values where grain = "
            "'month' and period_start = date '2026-10-01' and dimension is not null"
        ).fetchall()
    }
    con.close()
    oct1, oct31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    web = sandbox.world.web
    assert rows[("website_sessions", "channel", "Email")] == web.sessions(oct1, oct31, "Email")
    assert rows[("traffic_share", "channel", "Paid Search")] == pytest.approx(
        web.sessions(oct1, oct31, "Paid Search") / web.sessions(oct1, oct31)
    )
    assert rows[("website_visitors", "channel", "Direct")] == web.users(oct1, oct31, "Direct")
    meta = sandbox.world.truth_ads(oct1, oct31, "meta")
    assert rows[("ad_cpc", "network", "meta")] == pytest.approx(meta["spend"] / meta["clicks"])
    brand = sandbox.world.truth_ads(oct1, oct31, "google", "Search - Brand")
    assert rows[("ad_clicks", "campaign", "google / Search - Brand")] == brand["clicks"]


def test_traffic_shares_of_a_week_add_up_to_all_its_sessions(synced):
    settings, *_ = synced
    con = duckdb.connect(str(settings.published_path), read_only=True)
    sums = con.execute(
        "select period_start, sum(value) from kpis.kpi_values where kpi_id = 'traffic_share' "
        "and grain = 'week' group by period_start"
    ).fetchall()
    con.close()
    assert len(sums) > 20 and all(total == pytest.approx(1.0, abs=1e-9) for _, total in sums)


def test_a_closed_month_is_compared_with_all_of_the_month_before(synced, sandbox):
    settings, *_ = synced
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = {
        k: r
        for k, *r in con.execute(
            "select kpi_id, actual, previous_actual, last_year_actual from snapshots.kpi_snapshots "
            "where grain = 'month' and period_start = date '2026-10-01'"
        ).fetchall()
    }
    con.close()
    world = sandbox.world
    assert rows["website_visitors"][1] == world.web.users(dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert rows["revenue"][1] == pytest.approx(
        world.truth_sales(dt.date(2026, 9, 1), dt.date(2026, 9, 30))["revenue"]
    )
    assert (
        rows["intro_calls"][1]
        == world.truth_sales(dt.date(2026, 9, 1), dt.date(2026, 9, 30))["intro_calls"]
    )


def november_visitors(settings, columns):
    """Columns of the open month's website_visitors snapshot, from the analysts' copy."""
    con = duckdb.connect(str(settings.published_path), read_only=True)
    row = con.execute(
        f"select {columns} from snapshots.kpi_snapshots where kpi_id = 'website_visitors' "
        "and grain = 'month' and period_start = date '2026-11-01'"
    ).fetchone()
    con.close()
    return row


def test_distinct_kpis_compare_like_for_like_with_exact_ranges(synced, sandbox):
    settings, *_ = synced
    actual, previous, last_year = november_visitors(
        settings, "actual, previous_actual, last_year_actual"
    )
    web = sandbox.world.web
    assert actual == web.users(dt.date(2026, 11, 1), AS_OF)
    assert previous == web.users(
        dt.date(2026, 10, 1), dt.date(2026, 10, 15)
    )  # the first 15 days of October
    assert last_year is None  # before history_start: not fetched, never invented


def test_closed_months_before_the_activity_window_still_have_campaign_and_level_kpis(
    synced, sandbox
):
    settings, *_ = synced
    values = kpi_values(settings)
    may = dt.date(2026, 5, 1)
    assert values[("email_open_rate", "month", may)] == pytest.approx(
        sandbox.world.truth_open_rate(may, dt.date(2026, 5, 31))
    )
    assert values[("newsletter_subscribers", "month", may)] == sandbox.world.truth_subscribers(
        dt.date(2026, 5, 31)
    )
    # list activity reaches back 180 days only: May's new subscribers are marked partial, with their
    # span, and count exactly the days covered (never a whole month invented from part of it)
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        value, covered_from, is_partial = con.execute(
            "select value, covered_from, is_partial from kpis.kpi_values where kpi_id = "
            "'newsletter_new_subscribers' and grain = 'month' and period_start "
            "= ? and dimension is null",
            [may],
        ).fetchone()
    assert is_partial and may < covered_from <= dt.date(2026, 5, 31)
    assert value == sandbox.world.truth_new_subscribers(covered_from, dt.date(2026, 5, 31))


def test_open_month_status_follows_pacing_against_truth(synced, sandbox):
    settings, *_ = synced
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select kpi_id, actual, target, projected, status, is_closed, previous_actual from "
            "snapshots.kpi_snapshots where grain = 'month' and period_start = date '2026-11-01'"
        ).fetchall()
    }
    con.close()
    new = sandbox.world.truth_new_subscribers(dt.date(2026, 11, 1), AS_OF)
    actual, target, projected, status, is_closed, previous = rows["newsletter_new_subscribers"]
    assert (actual, target, is_closed) == (new, 110, False)
    assert projected == pytest.approx(new / (15 / 30))
    expected = "on_track" if projected >= 110 else "at_risk" if projected >= 99 else "off_track"
    assert status == expected
    assert previous == sandbox.world.truth_new_subscribers(
        dt.date(2026, 10, 1), dt.date(2026, 10, 15)
    )
    rate = sandbox.world.truth_open_rate(dt.date(2026, 11, 1), AS_OF)
    assert rows["email_open_rate"][2] == pytest.approx(rate)  # a ratio is not paced
    assert rows["email_open_rate"][3] == (
        "on_track" if rate >= 0.30 else "at_risk" if rate >= 0.27 else "off_track"
    )
    assert rows["newsletter_churn_rate"][3] == "no_target"


def test_progress_and_one_summary_line_per_stream(synced):
    _, outcome, progress, _ = synced
    assert "  > raw/mailchimp__list_activity" in progress
    assert {s.asset for s in outcome.streams} == {
        "raw/mailchimp__lists",
        "raw/mailchimp__list_activity",
        "raw/mailchimp__growth_history",
        "raw/mailchimp__campaign_reports",
        "raw/mailchimp__members",
        "raw/mailchimp__campaign_opens",
        "raw/ga4__traffic_daily",
        "raw/ga4__users_by_period",
        "raw/ga4__users_comparisons",
        "raw/meta_ads__campaign_insights",
        "raw/google_ads__campaign_daily",
        "raw/instagram__account",
        "raw/instagram__follower_count",
        "raw/instagram__daily_totals",
        "raw/stripe__charges",
        "raw/stripe__invoices",
        "raw/stripe__customers",
        "raw/stripe__balance_transactions",
        "raw/calendly__scheduled_events",
        "raw/calendly__invitees",
        "raw/hubspot__contacts",
        "raw/hubspot__deals",
        "raw/manual__metrics",
    }
    activity = next(s for s in outcome.streams if s.asset == "raw/mailchimp__list_activity")
    assert (
        activity.rows == 180 and activity.requests == 2
    )  # the lists call, then one page of activity


def test_the_run_is_in_the_dagster_instance_with_partitions(synced):
    import dagster as dg

    _, outcome, _, _ = synced
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(outcome.run_id)
        assert run is not None and run.is_success
        keys = instance.get_materialized_partitions(
            dg.AssetKey(["raw", "mailchimp__campaign_reports"])
        )
        assert len(keys) == (AS_OF - HISTORY_START).days + 1
        # the range was planned as one event per asset, not one per asset and day (199 days)
        planned = instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        )
        assets = {e.dagster_event.asset_key for e in planned}
        assert (
            len(planned) == len(assets)
            and dg.AssetKey(["raw", "mailchimp__campaign_reports"]) in assets
        )
        # a point-in-time stream is one table, not 199 days filled by one row
        account = dg.AssetKey(["raw", "instagram__account"])
        assert instance.get_latest_materialization_event(account) is not None
        assert not instance.get_materialized_partitions(account)


def test_a_nightly_sync_records_one_partition_per_daily_stream_and_says_what_it_refetched(synced):
    import dagster as dg

    settings, *_ = synced
    outcome = run_pipeline(
        settings, AS_OF, out=io.StringIO()
    )  # no dates: each stream's own lookback
    assert outcome.success
    with dg.DagsterInstance.get() as instance:
        events = [
            e.dagster_event.event_specific_data.materialization
            for e in instance.all_logs(
                outcome.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            )
        ]
    raw = {m.asset_key.to_user_string(): m for m in events if m.asset_key.path[0] == "raw"}
    assert len(raw) == 23 and len([m for m in events if m.asset_key.path[0] == "raw"]) == 23
    daily = {k for k, m in raw.items() if m.partition is not None}
    assert {raw[k].partition for k in daily} == {AS_OF.isoformat()}
    assert len(daily) == 13  # was 90 partitions x 23 streams before partitions fitted the data (and
    # HubSpot deals, upserted by last modification since issue 21, are not daily)
    window = {k: m.metadata["window"].value for k, m in raw.items()}
    assert (
        window["raw/mailchimp__list_activity"] == f"{AS_OF - dt.timedelta(days=13)}..{AS_OF}"
    )  # lookback 14
    assert window["raw/ga4__traffic_daily"] == f"{AS_OF - dt.timedelta(days=2)}..{AS_OF}"
    assert window["raw/manual__metrics"] == "the whole file"
    assert window["raw/instagram__account"] == f"as of {AS_OF}"
    assert window["raw/stripe__charges"] == f"{AS_OF - dt.timedelta(days=29)}..{AS_OF}"
    assert (
        window["raw/calendly__scheduled_events"]
        == f"{AS_OF - dt.timedelta(days=29)}..{AS_OF} (+ 365 days ahead)"
    )
    assert (
        "1900" not in str(window) and "2999" not in str(window) and "2000-01-01" not in str(window)
    )
    # Dagster's conventions: every table says its rows and columns; the scorecard says its status
    for m in events:
        if (
            m.asset_key.path[0] in ("raw", "staging", "kpis", "snapshots")
            and m.asset_key.path[-1] != "alerts"
        ):
            assert (
                "dagster/row_count" in m.metadata
                and m.metadata["dagster/column_schema"].schema.columns
            ), m.asset_key
    snapshots = next(m for m in events if m.asset_key.to_user_string() == "snapshots/kpi_snapshots")
    assert "on track" in snapshots.metadata["status"].value
    assert (
        "🔴" in snapshots.metadata["scorecard"].value
        or "🟢" in snapshots.metadata["scorecard"].value
    )


def test_report_command_in_every_format(synced, capsys, tmp_path):
    settings, _, _, path = synced
    assert main(["report", "--config", str(path), "--format", "json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["as_of"] == AS_OF.isoformat() and {r["period"] for r in doc["kpis"]} == {
        "2026-11",
        "2026-Q4",
    }
    assert (
        main(["report", "--config", str(path), "--period", "2026-10", "--format", "markdown"]) == 0
    )
    md = capsys.readouterr().out
    assert (
        md.startswith("**Month October 2026: ")
        and "\n| KPI |" in md
        and ("achieved" in md or "missed" in md)
    )
    out = tmp_path / "card.html"
    assert (
        main(
            [
                "report",
                "--config",
                str(path),
                "--grain",
                "week",
                "--format",
                "html",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert '<table class="kpis">' in out.read_text() and 'data-period="2026-W46"' in out.read_text()
    assert (settings.reports_dir / "scorecard.html").exists()
    assert (
        main(["report", "--config", str(path), "--as-of", AS_OF.isoformat()]) == 0
    )  # from history
    assert main(["report", "--config", str(path), "--as-of", "2026-06-01"]) == 1
    assert "run `kpi sync --as-of 2026-06-01`" in capsys.readouterr().err


def test_rerunning_the_same_range_changes_no_table_while_an_analyst_reads(synced):
    settings, _, _, _ = synced

    def dump():
        con = duckdb.connect(str(settings.published_path), read_only=True)
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_name <> '_loads' order by 1, 2"
        ).fetchall()
        out = {}
        for schema, name in tables:
            cols = [
                c[0]
                for c in con.execute(f"describe {schema}.{name}").fetchall()
                if c[0] not in TIMESTAMPS
            ]
            out[f"{schema}.{name}"] = sorted(
                map(repr, con.execute(f"select {', '.join(cols)} from {schema}.{name}").fetchall())
            )
        con.close()
        return out

    before = dump()
    analyst = duckdb.connect(str(settings.published_path), read_only=True)
    held = analyst.execute("select count(*) from kpis.kpi_values").fetchone()[0]
    # the last six weeks again (every stream's lookback and more): nothing may change
    outcome = run_pipeline(
        settings, AS_OF, start=AS_OF - dt.timedelta(days=41), end=AS_OF, out=io.StringIO()
    )
    assert outcome.success
    assert analyst.execute("select count(*) from kpis.kpi_values").fetchone()[0] == held
    analyst.close()
    after = dump()
    assert after.keys() == before.keys() and len(before) >= 20
    for table in before:
        assert after[table] == before[table], table


def test_a_quiet_week_counts_zero_and_its_ratios_have_nothing_to_divide_by(synced, sandbox):
    settings, *_ = synced
    quiet, after = dt.date(2026, 11, 2), dt.date(2026, 11, 9)  # 2026-W45: the owner was away
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = {
        (k, s): r
        for k, s, *r in con.execute(
            "select kpi_id, period_start, actual, status, status_reason, previous_actual from "
            "snapshots.kpi_snapshots where grain = 'week' and period_start in (?, ?)",
            [quiet, after],
        ).fetchall()
    }
    con.close()
    truth_ = sandbox.world.truth_sales(quiet, quiet + dt.timedelta(days=6))
    assert truth_["intro_calls"] == 0 and not sandbox.world.ads.select(
        quiet, quiet + dt.timedelta(days=6)
    )
    for kpi in ("intro_calls", "ad_clicks", "ad_spend", "ad_impressions"):
        actual, status, _, _ = rows[(kpi, quiet)]
        assert actual == 0 and status != "no_data", kpi
    for kpi in ("ad_cpc", "ad_ctr", "call_conversion_rate"):
        actual, status, reason, _ = rows[(kpi, quiet)]
        assert actual is None and status == "no_data" and reason == "nothing to divide by", kpi
    assert rows[("intro_calls", after)][3] == 0  # the next week compares with 0, not with nothing


def test_open_visitors_are_projected_by_how_last_month_grew_after_the_same_share(synced, sandbox):
    settings, *_ = synced
    actual, projected, method = november_visitors(settings, "actual, projected, projection_method")
    web = sandbox.world.web
    growth = web.users(dt.date(2026, 10, 1), dt.date(2026, 10, 31)) / web.users(
        dt.date(2026, 10, 1), dt.date(2026, 10, 15)
    )
    assert (
        method == "history"
    )  # no November 2025 in this history: October's growth after its first half
    assert projected == pytest.approx(actual * growth) and projected < actual / 0.5


@pytest.fixture
def synced_copy(synced, tmp_path, monkeypatch):
    """A copy of the synced business for a test that syncs again on another night."""
    _, _, _, path = synced
    return business_copy(path, tmp_path, monkeypatch)


# on a copy: it syncs the next night (as-of + 1), which moves every open period on
def test_a_failing_source_fails_the_run_names_the_fix_and_marks_its_kpis_no_data(
    synced_copy, sandbox, capsys
):
    settings, path = synced_copy
    sandbox.mailchimp.server.inject(r".*", status=401, times=1000)
    later = AS_OF + dt.timedelta(days=1)  # the next night: the source now refuses the key
    code = main(["sync", "--config", str(path), "--as-of", later.isoformat()])
    out = capsys.readouterr()
    assert code == 1
    assert "x raw/mailchimp__list_activity failed: " in out.out
    assert (
        "mailchimp/list_activity: API Key Invalid" in out.out
        and "check sources.mailchimp.api_key" in out.out
    )
    assert "refreshing models and the scorecard" in out.out
    assert f"scorecard as of {later}: month 2026-11: " in out.out  # the summary, then what turned
    assert "Email open rate (2026-11): " in out.out and " -> no data" in out.out
    secret = "sandboxkey0000"
    assert secret not in out.out + out.err
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    statuses = dict(
        con.execute(
            "select kpi_id, status from snapshots.kpi_snapshots where grain = "
            "'month' and period_start = ?",
            [dt.date(2026, 11, 1)],
        ).fetchall()
    )
    october = dict(
        con.execute(
            "select kpi_id, status from snapshots.kpi_snapshots where grain = "
            "'month' and period_start = ?",
            [dt.date(2026, 10, 1)],
        ).fetchall()
    )
    newsletter = expected_kpis.BY_SOURCE["mailchimp"]
    assert {statuses[k] for k in newsletter} == {"no_data"}  # stale: never shown as on track
    assert (
        statuses["website_visitors"] != "no_data" and statuses["ad_cpc"] != "no_data"
    )  # sources that did load
    assert (
        "check keys_and_values" not in out.out
    )  # kpis.kpi_values: one row per KPI x grain x period x dimension
    assert october["newsletter_new_subscribers"] in ("achieved", "missed")
    for (table,) in con.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
    ).fetchall():
        assert not con.execute(
            f"select count(*) from {table} t where t::varchar like '%{secret}%'"
        ).fetchone()[0]
    con.close()
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs(limit=3):
            for entry in instance.all_logs(run.run_id):
                assert secret not in repr(entry)

"""A portfolio's wiring without running it: folders, ids, keys, pools, schedules, workspace,
credentials."""

from __future__ import annotations

import datetime as dt
import json
import runpy

import dagster as dg
import pytest

from kpi_pipeline.cli.portfolio import child_argv, worst
from kpi_pipeline.config.settings import API_POOLS, ConfigError, load_config
from kpi_pipeline.orchestration.defs import build_definitions
from kpi_pipeline.portfolio.businesses import businesses, select, write_workspace
from tests import expected_kpis
from tests.portfolio_folders import ALPHA, alpha_and_beta, business


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("KPI_WAREHOUSE", raising=False)
    return alpha_and_beta(tmp_path)


def test_a_business_in_a_portfolio_is_its_folder(root):
    alpha = load_config(root / "businesses" / "alpha" / "kpi.yaml")
    assert (alpha.slug, alpha.business_id, alpha.key_prefix) == ("alpha", "alpha", ["alpha"])
    assert alpha.portfolio_root == root.resolve()
    assert (
        alpha.warehouse_path
        == root.resolve() / "businesses" / "alpha" / "data" / "warehouse.duckdb"
    )
    single = root / "single"
    single.mkdir()
    (single / "kpi.yaml").write_text(ALPHA)
    alone = load_config(single / "kpi.yaml")  # one kpi.yaml, as before: no prefix, the one pool
    assert (alone.slug, alone.business_id, alone.key_prefix, alone.pools()) == (
        None,
        "alpha_bakery",
        [],
        ["duckdb"],
    )


def test_each_business_reads_its_own_env_before_the_environment(root, monkeypatch):
    monkeypatch.setenv("STRIPE_API_KEY", "sk_from_the_environment")
    alpha = load_config(root / "businesses" / "alpha" / "kpi.yaml")
    beta = load_config(root / "businesses" / "beta" / "kpi.yaml")
    assert alpha.sources.stripe.api_key.get_secret_value() == "sk_alpha_only_7f3"
    assert beta.sources.stripe.api_key.get_secret_value() == "sk_beta_only_91c"
    # nothing of beta's .env reaches alpha: a credential alpha's .env lacks is missing, not beta's
    assert alpha.sources.meta_ads is None and "beta-meta-token" not in alpha.model_dump_json()


def test_kpi_warehouse_cannot_put_two_businesses_in_one_file(root, monkeypatch):
    monkeypatch.setenv("KPI_WAREHOUSE", str(root / "one.duckdb"))
    paths = {load_config(b.config_path).warehouse_path for b in businesses(root)}
    assert len(paths) == 2 and root / "one.duckdb" not in paths


def test_a_folder_that_is_no_slug_is_refused_by_name(root):
    path = business(root, "Bad-Name", ALPHA)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "(folder)" in str(err.value) and "'Bad-Name' is not a business slug" in str(err.value)
    with pytest.raises(ValueError, match="Bad-Name"):
        select(root, [])
    assert [b.slug for b in select(root, ["beta"])] == ["beta"]  # the others still work by name


def test_unknown_business_is_named_with_the_known_ones(root):
    with pytest.raises(ValueError, match=r"--business: gamma not in .*\(alpha, beta\)"):
        select(root, ["gamma"])


SOURCES = {"alpha": ["mailchimp", "stripe"], "beta": ["stripe", "meta_ads"]}  # ALPHA's, BETA's


def test_keys_pools_and_schedules_are_each_businesses_own(root):
    defs = {
        slug: build_definitions(load_config(root / "businesses" / slug / "kpi.yaml"))
        for slug in ("alpha", "beta")
    }
    keys = {slug: set(d.resolve_asset_graph().get_all_asset_keys()) for slug, d in defs.items()}
    for slug, own in keys.items():
        assert own and all(k.path[0] == slug for k in own), slug
        graph = defs[slug].resolve_asset_graph()
        for key in (
            own
        ):  # every dependency is the business's own asset: nothing dangles at an unprefixed key
            assert all(p in own for p in graph.get(key).parent_keys), key
        checks = graph.asset_check_keys
        assert checks and all(c.asset_key.path[0] == slug for c in checks)
        # a check per KPI of the business's own sources, on its own snapshots (issue 24 §5)
        snapshots = dg.AssetKey([slug, "snapshots", "kpi_snapshots"])
        assert {c.name for c in checks if c.asset_key == snapshots} == {"sources_fresh"} | {
            f"kpi_{kpi}" for kpi in expected_kpis.scored(SOURCES[slug])
        }
    assert not keys["alpha"] & keys["beta"]

    alpha_graph = defs["alpha"].resolve_asset_graph()
    pools = {k.path[1:][0] + "/" + k.path[-1]: alpha_graph.get(k).pools for k in keys["alpha"]}
    assert pools["raw/stripe__charges"] == {API_POOLS["stripe"]}
    assert pools["raw/mailchimp__lists"] == {API_POOLS["mailchimp"]}
    assert pools["kpis/kpi_values"] == {"duckdb_alpha"}
    assert pools["snapshots/kpi_snapshots"] == {"duckdb_alpha"}
    beta_graph = defs["beta"].resolve_asset_graph()
    assert beta_graph.get(dg.AssetKey(["beta", "raw", "meta_ads__campaign_insights"])).pools == {
        "api_meta"
    }


@pytest.mark.parametrize(
    "slug, utc, as_of",
    [
        (
            "alpha",
            dt.datetime(2026, 11, 15, 13, 0, tzinfo=dt.timezone.utc),
            "2026-11-15",
        ),  # 02:00 on the 16th in Auckland
        (
            "beta",
            dt.datetime(2026, 11, 16, 11, 0, tzinfo=dt.timezone.utc),
            "2026-11-15",
        ),  # 03:00 on the 16th in LA
    ],
)
def test_each_nightly_run_starts_in_its_own_timezones_night(root, slug, utc, as_of):
    settings = load_config(root / "businesses" / slug / "kpi.yaml")
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def("nightly_sync")
    assert schedule.execution_timezone == settings.timezone
    tick = schedule.cron_schedule
    assert tick == ("0 2 * * *" if slug == "alpha" else "0 3 * * *")
    local = utc.astimezone(settings.tz)
    assert (local.hour, local.minute) == tuple(
        int(x) for x in settings.schedule.nightly_at.split(":")
    )
    with dg.build_schedule_context(
        scheduled_execution_time=utc, repository_def=defs.get_repository_def()
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["kpi/as_of"] == as_of and request.run_key == f"nightly-{as_of}"


def test_the_workspace_has_a_location_per_business_and_a_broken_one_breaks_only_itself(
    root, tmp_path
):
    business(
        root,
        "gamma",
        "business: Gamma\nhistory_start: 2026-10-01\ntargets: {revenue: {month: 5}}\n",
    )
    home = tmp_path / "home"
    text = write_workspace(root, home).read_text()
    for name in ("alpha", "beta", "gamma", "portfolio"):
        assert f'location_name: "{name}"' in text
    loaded = runpy.run_path(str(home / "locations" / "alpha.py"))["defs"]
    assert (
        dg.AssetKey(["alpha", "kpis", "kpi_values"])
        in loaded.resolve_asset_graph().get_all_asset_keys()
    )
    with pytest.raises(ConfigError, match="targets.revenue"):
        runpy.run_path(str(home / "locations" / "gamma.py"))
    (root / "businesses" / "gamma" / "kpi.yaml").unlink()  # a business removed: its location goes
    assert 'location_name: "gamma"' not in write_workspace(root, home).read_text()
    assert not (home / "locations" / "gamma.py").exists()


def test_the_portfolio_flags_stay_with_the_portfolio():
    argv = [
        "sync",
        "--business",
        "alpha",
        "--jobs=3",
        "--as-of",
        "2026-11-15",
        "--business=beta",
        "--history",
    ]
    assert child_argv(argv) == ["sync", "--as-of", "2026-11-15", "--history"]
    assert worst([0, 2, 0]) == 2 and worst([2, 1]) == 1 and worst([0, 0]) == 0


def test_a_dead_runs_slots_in_a_businesss_and_a_platforms_pool_are_freed(tmp_path):
    import socket
    import subprocess
    import uuid

    from kpi_pipeline.orchestration.instance_state import (
        PID_TAG,
        STARTED_BY_TAG,
        repair,
        unfinished_runs,
    )
    from tests.sync_processes import event as _event

    gone = subprocess.Popen(["true"])
    gone.wait()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run = instance.create_run_for_job(
            dg.GraphDefinition("alpha_sync").to_job(),
            run_id=str(uuid.uuid4()),
            tags={PID_TAG: f"{socket.gethostname()}:{gone.pid}:", STARTED_BY_TAG: "kpi sync"},
        )
        instance.handle_new_event(_event(run, dg.DagsterEventType.RUN_START))
        storage = instance.event_log_storage
        for pool, step in (
            ("duckdb_alpha", "kpis__kpi_values"),
            ("api_stripe", "raw__stripe__charges"),
        ):
            storage.set_concurrency_slots(pool, 1)
            assert storage.claim_concurrency_slot(pool, run.run_id, step).is_claimed
        (state,) = unfinished_runs(instance)
        assert state.pools == ["api_stripe", "duckdb_alpha"] and state.alive is False
        assert "holds the api_stripe, duckdb_alpha pool slot" in state.describe()
        done = repair(instance)
        assert any("freed the api_stripe, duckdb_alpha pool slot" in line for line in done), done
        assert not storage.get_concurrency_info("duckdb_alpha").claimed_slots
        assert not storage.get_concurrency_info("api_stripe").claimed_slots
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE


@pytest.mark.parametrize(
    "args, message",
    [
        (["sync", "--jobs", "0"], "--jobs: 0 is not a number"),
        (["report", "--business", "gamma"], "--business: gamma not in"),
    ],
)
def test_bad_portfolio_options_are_refused_by_name(root, monkeypatch, capsys, args, message):
    from kpi_pipeline.cli.main import main

    monkeypatch.chdir(root)
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "--portfolio"], "--portfolio: no portfolio here"),
        (
            ["report", "--business", "alpha"],
            "--business: alpha is not this kpi.yaml's business (alpha_bakery)",
        ),
        (
            ["sync", "--history", "--start", "2026-10-05", "--as-of", "2026-11-15"],
            "--history: it starts at history_start",
        ),
    ],
)
def test_portfolio_options_outside_a_portfolio_are_refused(
    tmp_path, monkeypatch, capsys, args, message
):
    from kpi_pipeline.cli.main import main

    (tmp_path / "kpi.yaml").write_text(ALPHA)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KPI_CONFIG", raising=False)
    monkeypatch.delenv("KPI_PORTFOLIO", raising=False)
    monkeypatch.setenv("MAILCHIMP_API_KEY", "x")
    monkeypatch.setenv("STRIPE_API_KEY", "y")
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_the_platforms_pool_limits_are_set_once_and_an_operators_own_is_kept(tmp_path, monkeypatch):
    from kpi_pipeline.config.settings import API_POOL_LIMITS
    from kpi_pipeline.orchestration.instance_setup import _instance_yaml, set_api_pools

    home = tmp_path / ".dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    _instance_yaml(home)
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots(
            "api_meta", 5
        )  # the operator's: Advanced access
    set_api_pools(home)
    with dg.DagsterInstance.get() as instance:
        limits = {
            pool: instance.event_log_storage.get_concurrency_info(pool).slot_count
            for pool in API_POOL_LIMITS
        }
    assert limits == {**API_POOL_LIMITS, "api_meta": 5}


def test_a_portfolios_catalog_json_is_one_document(root, monkeypatch, capsys):
    """`kpi catalog --format json` in a portfolio is one JSON document (issue 24: `jq` reads it),
    as `kpi report` is: one --business, its own list; several, {"businesses": [...]}."""
    from kpi_pipeline.cli.main import main

    monkeypatch.chdir(root)
    for name in ("KPI_CONFIG", "KPI_PORTFOLIO", "MAILCHIMP_API_KEY", "STRIPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["catalog", "--format", "json"]) == 0
    every = json.loads(capsys.readouterr().out)  # no `== alpha ==` before it
    assert [b["slug"] for b in every["businesses"]] == ["alpha", "beta"]
    for doc in every["businesses"]:
        assert {k["id"] for k in doc["kpis"]} >= expected_kpis.enabled(SOURCES[doc["slug"]])
    assert main(["catalog", "--format", "json", "--business", "beta"]) == 0
    beta = json.loads(capsys.readouterr().out)
    assert {k["id"] for k in beta} >= expected_kpis.enabled(SOURCES["beta"])
    assert not {k["id"] for k in beta} & expected_kpis.needing("mailchimp")  # beta's own list
    assert main(["catalog", "--business", "beta"]) == 0  # the table keeps its header
    assert capsys.readouterr().out.startswith("== beta ==")


def test_the_portfolio_table_reads_on_120_columns_with_its_period_said_once():
    """On the 6th every business falls back to the closed month: the table says the period in
    full once, above it, and each business's period and counts stay on its own line."""
    from kpi_pipeline.reporting.portfolio import BusinessRow, Freshness, portfolio_table

    name = "September 2026 (closed, not final yet; October too early)"
    domains = ("marketing", "sales", "production", "customer_service", "hr")
    rows = [
        BusinessRow(
            slug=slug,
            business=slug,
            as_of="2026-10-06",
            period="2026-09",
            current_period="2026-10",
            closed=True,
            final=False,
            period_name=name,
            counts={d: {"achieved": 12 - i, "missed": 3 + i} for d in domains},
            off_track_twice=["Email click-to-open rate", "Instagram follower growth rate"][:i],
            freshness=[Freshness("google_ads", "2026-10-03", 3), Freshness("stripe", None, None)],
        )
        for i, slug in enumerate(["studio-lumen", "harbour-goods", "kapsalon-de-schaar"])
    ]
    rows.append(BusinessRow("broken-bakery", "Broken", problem="kpi.yaml is invalid: no business"))
    text = portfolio_table(rows, "month")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120, text
    assert f"Period: {name}" in lines and text.count("September 2026") == 1, text
    for i, slug in enumerate(["studio-lumen", "harbour-goods", "kapsalon-de-schaar"]):
        (line,) = [line for line in lines if line.startswith(slug)]
        assert "Sep 2026 closed" in line and line.count(f"{12 - i}/{3 + i}") == 5, text
    assert "! broken-bakery: kpi.yaml is invalid: no business" in lines, text

"""What the definitions run: the jobs, the nightly schedule and the sensors, the code location
named after the business, and a business's nightly job running only its own steps and models.
The asset graph itself: tests/test_defs.py."""

import datetime as dt

import dagster as dg

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.defs import build_definitions


def test_jobs_schedule_and_sensor():
    defs = build_definitions(load_config("kpi.yaml"))
    schedule = defs.resolve_schedule_def("nightly_sync")
    assert (
        schedule.cron_schedule == "0 3 * * *" and schedule.execution_timezone == "Europe/Brussels"
    )
    assert schedule.job_name == "nightly"
    refresh = defs.resolve_job_def("refresh")
    assert not any(k.path[0] == "raw" for k in refresh.asset_layer.selected_asset_keys)
    assert defs.resolve_sensor_def("refresh_after_failed_sync").job_name == "refresh"
    assert (
        defs.resolve_sensor_def("alert_on_failed_run").default_status
        == dg.DefaultSensorStatus.RUNNING
    )


def test_schedule_requests_yesterdays_partition_each_stream_refetching_its_lookback():
    import datetime as dt

    settings = load_config("kpi.yaml")
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def("nightly_sync")
    when = dt.datetime(2026, 11, 28, 3, 0, tzinfo=settings.tz)
    with dg.build_schedule_context(
        scheduled_execution_time=when, repository_def=defs.get_repository_def()
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["kpi/as_of"] == "2026-11-27"
    assert request.tags["kpi/window"] == "lookback"
    assert (
        request.partition_key == "2026-11-27"
    )  # one partition per daily stream, not 90 days' worth
    assert "dagster/asset_partition_range_start" not in request.tags


def test_the_code_location_is_named_after_the_business_and_freshness_is_on(tmp_path, monkeypatch):
    import yaml

    from kpi_pipeline.orchestration.run import ensure_instance

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
    )  # an older instance
    home = ensure_instance(load_config("kpi.yaml"))
    workspace = yaml.safe_load((home / "workspace.yaml").read_text())
    location = workspace["load_from"][0]["python_file"]
    assert location["location_name"] == "studio_lumen" and location["relative_path"].endswith(
        "/definitions.py"
    )
    assert yaml.safe_load((home / "dagster.yaml").read_text())["freshness"] == {"enabled": True}


# A business runs only its own work (docs/ARCHITECTURE.md#a-business-runs-only-its-own-models):
# a Mailchimp-only business's nightly job, step by step, and the models its one models step
# builds, written out by hand.
MAILCHIMP_ONLY_MODELS = {
    *(
        f"staging/stg_mailchimp__{e}"
        for e in (
            "campaigns",
            "growth_history",
            "list_activity",
            "list_snapshots",
            "member_engagement",
        )
    ),
    "kpis/newsletter_subscriber_levels",
    "kpis/kpi_daily",
    "kpis/kpi_ranges",
    "kpis/kpi_zero_days",
    "kpis/kpi_window_values",
    "kpis/kpi_values",
}
MAILCHIMP_ONLY_STEPS = {
    *(
        f"raw__mailchimp__{s}"
        for s in (
            "campaign_opens",
            "campaign_reports",
            "growth_history",
            "list_activity",
            "lists",
            "members",
        )
    ),
    "sql_models",  # every SQL model above: one step, not one each
    "kpis__catalog",
    "kpis__parameters",
    "kpis__calendar_windows",
    "kpis__coverage",
    "kpis__kpi_values_ratios_between_zero_and_one",  # a check of its own (checks.py)
    "snapshots__targets",
    "snapshots__kpi_snapshots",
    "snapshots__kpi_snapshots_sources_fresh",
    "snapshots__alerts",
    "reports__scorecard",
    "published__analytics_duckdb",
}


def _subset_settings(tmp_path, monkeypatch, sources):
    from types import SimpleNamespace

    from connectors.sandbox import CREDENTIALS
    from tests.conftest import credential_variables, subset_config

    for variable, value in credential_variables(
        CREDENTIALS.__getitem__, sources
    ).items():  # the sandbox's
        monkeypatch.setenv(variable, value)
    sandbox = SimpleNamespace(
        urls={s: "http://127.0.0.1:9" for s in ("mailchimp", "stripe", "calendly", "hubspot")}
    )
    return load_config(subset_config(tmp_path, sandbox, sources, dt.date(2026, 11, 1)))


def test_a_one_source_business_runs_only_its_own_steps(tmp_path, monkeypatch):
    settings = _subset_settings(tmp_path, monkeypatch, ["mailchimp"])
    defs = build_definitions(settings)
    steps = {node.name for node in defs.resolve_job_def("nightly").graph.nodes}
    assert steps == MAILCHIMP_ONLY_STEPS  # 18 steps; a step per model made it 28
    models = defs.resolve_assets_def(dg.AssetKey(["kpis", "kpi_daily"]))
    assert models.node_def.name == "sql_models" and models.can_subset
    assert {k.to_user_string() for k in models.keys} == MAILCHIMP_ONLY_MODELS
    # its daily KPI model is assembled from its own KPIs' formulas: no branch of another platform's
    sql = defs.resolve_asset_graph().get(dg.AssetKey(["kpis", "kpi_daily"])).metadata["sql"].md_str
    assert "'email_open_rate' as kpi_id" in sql
    assert (
        "'revenue' as kpi_id" not in sql and "stripe" not in sql and "kpi_daily_custom" not in sql
    )
    # the snapshots do not wait for conversion cohorts no configured source feeds
    parents = (
        defs.resolve_asset_graph().get(dg.AssetKey(["snapshots", "kpi_snapshots"])).parent_keys
    )
    assert dg.AssetKey(["kpis", "kpi_cohort_members"]) not in parents


def test_a_model_read_by_a_kept_one_stays_with_the_other_sources_table_read_empty(
    tmp_path, monkeypatch
):
    # Stripe alone: the conversion cohorts read Calendly's and HubSpot's staging too (empty here)
    settings = _subset_settings(tmp_path, monkeypatch, ["stripe"])
    graph = build_definitions(settings).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "kpis/kpi_cohort_members",
        "staging/stg_calendly__invitees",
        "staging/stg_hubspot__contacts",
        "staging/stg_settings__fx_rates",
        "kpis/customer_windows",
    } <= keys
    assert not {k for k in keys if k.startswith(("raw/calendly", "raw/hubspot", "raw/mailchimp"))}
    assert not {
        k for k in keys if "mailchimp" in k or "ga4" in k or "ad_campaign" in k or "instagram" in k
    }
    assert (
        "'revenue' as kpi_id"
        in graph.get(dg.AssetKey(["kpis", "kpi_daily"])).metadata["sql"].md_str
    )

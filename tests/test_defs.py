"""A snapshot of the asset graph: keys, groups, deps, partitions, pools, jobs, schedule, sensor."""

import dagster as dg

from kpi_pipeline.config import load_config
from kpi_pipeline.defs import build_definitions

GRAPH = {
    "raw/mailchimp__campaign_opens": ("mailchimp", []),
    "raw/mailchimp__campaign_reports": ("mailchimp", []),
    "raw/mailchimp__growth_history": ("mailchimp", []),
    "raw/mailchimp__list_activity": ("mailchimp", []),
    "raw/mailchimp__lists": ("mailchimp", []),
    "raw/mailchimp__members": ("mailchimp", []),
    "staging/stg_mailchimp__campaigns": ("staging", ["raw/mailchimp__campaign_reports"]),
    "staging/stg_mailchimp__growth_history": ("staging", ["raw/mailchimp__growth_history"]),
    "staging/stg_mailchimp__list_activity": ("staging", ["raw/mailchimp__list_activity"]),
    "staging/stg_mailchimp__list_snapshots": ("staging", ["raw/mailchimp__lists"]),
    "staging/stg_mailchimp__member_engagement": ("staging", ["raw/mailchimp__campaign_opens", "raw/mailchimp__members"]),
    "kpis/newsletter_subscriber_levels": ("kpis", ["staging/stg_mailchimp__growth_history",
                                                   "staging/stg_mailchimp__list_activity",
                                                   "staging/stg_mailchimp__list_snapshots"]),
    "kpis/kpi_daily_newsletter": ("kpis", ["kpis/newsletter_subscriber_levels", "staging/stg_mailchimp__campaigns",
                                           "staging/stg_mailchimp__list_activity",
                                           "staging/stg_mailchimp__member_engagement"]),
    "kpis/kpi_daily": ("kpis", ["kpis/kpi_daily_newsletter"]),
    "kpis/catalog": ("kpis", []),
    "kpis/calendar_windows": ("kpis", []),
    "kpis/kpi_window_values": ("kpis", ["kpis/calendar_windows", "kpis/catalog", "kpis/kpi_daily"]),
    "kpis/kpi_values": ("kpis", ["kpis/kpi_window_values"]),
    "snapshots/targets": ("snapshots", []),
    "snapshots/kpi_snapshots": ("snapshots", ["kpis/kpi_values", "kpis/kpi_window_values", "snapshots/targets"]),
    "reports/scorecard": ("reports", ["snapshots/kpi_snapshots"]),
    "published/analytics_duckdb": ("reports", ["reports/scorecard"]),
}


def test_asset_graph_snapshot():
    defs = build_definitions(load_config("kpi.yaml"))
    graph = defs.resolve_asset_graph()
    actual = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        actual[key.to_user_string()] = (node.group_name, sorted(k.to_user_string() for k in node.parent_keys))
    assert actual == GRAPH


def test_raw_assets_are_daily_partitioned_in_business_time_and_every_writer_is_in_the_pool():
    defs = build_definitions(load_config("kpi.yaml"))
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        if name.startswith("raw/"):
            partitions = node.partitions_def
            assert isinstance(partitions, dg.DailyPartitionsDefinition)
            assert partitions.timezone == "Europe/Brussels" and partitions.start.date().isoformat() == "2025-01-01"
            assert node.backfill_policy == dg.BackfillPolicy.single_run()
            assert "mailchimp" in node.kinds
        else:
            assert node.partitions_def is None
        if name != "reports/scorecard":
            assert node.pools == {"duckdb"}, name


def test_jobs_schedule_and_sensor():
    defs = build_definitions(load_config("kpi.yaml"))
    schedule = defs.resolve_schedule_def("nightly_sync")
    assert schedule.cron_schedule == "0 3 * * *" and schedule.execution_timezone == "Europe/Brussels"
    assert schedule.job_name == "nightly"
    refresh = defs.resolve_job_def("refresh")
    assert not any(k.path[0] == "raw" for k in refresh.asset_layer.selected_asset_keys)
    assert defs.resolve_sensor_def("refresh_after_failed_sync").job_name == "refresh"


def test_schedule_requests_the_lookback_range_ending_yesterday():
    import datetime as dt

    settings = load_config("kpi.yaml")
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def("nightly_sync")
    when = dt.datetime(2026, 11, 28, 3, 0, tzinfo=settings.tz)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["kpi/as_of"] == "2026-11-27"
    assert request.tags["kpi/window"] == "lookback"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-27"
    assert request.tags["dagster/asset_partition_range_start"] == "2026-08-30"  # 90 days: campaign opens

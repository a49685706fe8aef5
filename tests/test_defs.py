"""A snapshot of the asset graph: keys, groups, deps, partitions, pools, code references,
freshness and checks. Jobs, schedule, sensor, the code location and a business's own work:
tests/test_defs_jobs.py."""

import dagster as dg

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.defs import build_definitions
from kpi_pipeline.sql.models import SQL_DIR

GRAPH = {
    "kpis/ad_campaign_days": (
        "kpis",
        ["staging/stg_google_ads__campaign_days", "staging/stg_meta_ads__campaign_days"],
    ),
    "kpis/calendar_windows": ("kpis", []),
    "kpis/catalog": ("kpis", []),
    "kpis/coverage": (
        "kpis",
        [
            "raw/calendly__invitees",
            "raw/calendly__scheduled_events",
            "raw/ga4__traffic_daily",
            "raw/ga4__users_by_period",
            "raw/ga4__users_comparisons",
            "raw/google_ads__campaign_daily",
            "raw/hubspot__contacts",
            "raw/hubspot__deals",
            "raw/instagram__account",
            "raw/instagram__daily_totals",
            "raw/instagram__follower_count",
            "raw/mailchimp__campaign_opens",
            "raw/mailchimp__campaign_reports",
            "raw/mailchimp__growth_history",
            "raw/mailchimp__list_activity",
            "raw/mailchimp__lists",
            "raw/mailchimp__members",
            "raw/manual__metrics",
            "raw/meta_ads__campaign_insights",
            "raw/stripe__balance_transactions",
            "raw/stripe__charges",
            "raw/stripe__customers",
            "raw/stripe__invoices",
        ],
    ),
    "kpis/customer_first_orders": ("kpis", ["staging/stg_stripe__charges"]),
    "kpis/customer_windows": (
        "kpis",
        ["kpis/calendar_windows", "kpis/customer_first_orders", "staging/stg_stripe__charges"],
    ),
    "kpis/ga4_user_ranges": (
        "kpis",
        ["staging/stg_ga4__traffic_daily", "staging/stg_ga4__users_by_range"],
    ),
    "kpis/instagram_follower_levels": (
        "kpis",
        ["staging/stg_instagram__account_snapshots", "staging/stg_instagram__daily"],
    ),
    "kpis/kpi_cohort_members": (
        "kpis",
        [
            "kpis/parameters",
            "staging/stg_calendly__events",
            "staging/stg_calendly__invitees",
            "staging/stg_hubspot__contacts",
            "staging/stg_stripe__charges",
        ],
    ),
    "kpis/kpi_daily": (
        "kpis",
        [
            "kpis/ad_campaign_days",
            "kpis/customer_first_orders",
            "kpis/instagram_follower_levels",
            "kpis/kpi_cohort_members",
            "kpis/kpi_daily_custom",
            "kpis/kpi_zero_days",
            "kpis/newsletter_subscriber_levels",
            "kpis/traffic_channel_days",
            "staging/stg_calendly__events",
            "staging/stg_ga4__traffic_daily",
            "staging/stg_hubspot__contacts",
            "staging/stg_instagram__daily",
            "staging/stg_mailchimp__campaigns",
            "staging/stg_mailchimp__list_activity",
            "staging/stg_mailchimp__member_engagement",
            "staging/stg_stripe__balance_transactions",
            "staging/stg_stripe__charges",
            "staging/stg_stripe__invoice_lines",
        ],
    ),
    "kpis/kpi_daily_custom": ("kpis", ["staging/stg_manual__metrics"]),
    "kpis/kpi_ranges": ("kpis", ["kpis/customer_windows", "kpis/ga4_user_ranges"]),
    "kpis/kpi_values": ("kpis", ["kpis/catalog", "kpis/kpi_window_values"]),
    "kpis/kpi_window_values": (
        "kpis",
        ["kpis/calendar_windows", "kpis/catalog", "kpis/kpi_daily", "kpis/kpi_ranges"],
    ),
    "kpis/kpi_zero_days": ("kpis", ["kpis/catalog", "kpis/coverage"]),
    "kpis/newsletter_subscriber_levels": (
        "kpis",
        [
            "staging/stg_mailchimp__growth_history",
            "staging/stg_mailchimp__list_activity",
            "staging/stg_mailchimp__list_snapshots",
        ],
    ),
    "kpis/parameters": ("kpis", []),
    "kpis/traffic_channel_days": ("kpis", ["staging/stg_ga4__traffic_daily"]),
    "published/analytics_duckdb": ("reports", ["reports/scorecard", "snapshots/alerts"]),
    "raw/calendly__invitees": ("calendly", []),
    "raw/calendly__scheduled_events": ("calendly", []),
    "raw/ga4__traffic_daily": ("ga4", []),
    "raw/ga4__users_by_period": ("ga4", []),
    "raw/ga4__users_comparisons": ("ga4", []),
    "raw/google_ads__campaign_daily": ("google_ads", []),
    "raw/hubspot__contacts": ("hubspot", []),
    "raw/hubspot__deals": ("hubspot", []),
    "raw/instagram__account": ("instagram", []),
    "raw/instagram__daily_totals": ("instagram", []),
    "raw/instagram__follower_count": ("instagram", []),
    "raw/mailchimp__campaign_opens": ("mailchimp", []),
    "raw/mailchimp__campaign_reports": ("mailchimp", []),
    "raw/mailchimp__growth_history": ("mailchimp", []),
    "raw/mailchimp__list_activity": ("mailchimp", []),
    "raw/mailchimp__lists": ("mailchimp", []),
    "raw/mailchimp__members": ("mailchimp", []),
    "raw/manual__metrics": ("manual", []),
    "raw/meta_ads__campaign_insights": ("meta_ads", []),
    "raw/stripe__balance_transactions": ("stripe", []),
    "raw/stripe__charges": ("stripe", []),
    "raw/stripe__customers": ("stripe", []),
    "raw/stripe__invoices": ("stripe", []),
    "reports/scorecard": ("reports", ["snapshots/kpi_snapshots"]),
    "snapshots/alerts": ("reports", ["reports/scorecard", "snapshots/kpi_snapshots"]),
    "snapshots/kpi_snapshots": (
        "snapshots",
        [
            "kpis/kpi_cohort_members",
            "kpis/kpi_values",
            "kpis/kpi_window_values",
            "snapshots/targets",
        ],
    ),
    "snapshots/targets": ("snapshots", []),
    "staging/stg_calendly__events": (
        "staging",
        ["kpis/parameters", "raw/calendly__scheduled_events"],
    ),
    "staging/stg_calendly__invitees": ("staging", ["raw/calendly__invitees"]),
    "staging/stg_ga4__traffic_daily": ("staging", ["raw/ga4__traffic_daily"]),
    "staging/stg_ga4__users_by_range": (
        "staging",
        ["raw/ga4__users_by_period", "raw/ga4__users_comparisons"],
    ),
    "staging/stg_google_ads__campaign_days": (
        "staging",
        ["raw/google_ads__campaign_daily", "staging/stg_settings__fx_rates"],
    ),
    "staging/stg_hubspot__contacts": ("staging", ["kpis/parameters", "raw/hubspot__contacts"]),
    "staging/stg_instagram__account_snapshots": ("staging", ["raw/instagram__account"]),
    "staging/stg_instagram__daily": (
        "staging",
        ["raw/instagram__daily_totals", "raw/instagram__follower_count"],
    ),
    "staging/stg_mailchimp__campaigns": ("staging", ["raw/mailchimp__campaign_reports"]),
    "staging/stg_mailchimp__growth_history": ("staging", ["raw/mailchimp__growth_history"]),
    "staging/stg_mailchimp__list_activity": ("staging", ["raw/mailchimp__list_activity"]),
    "staging/stg_mailchimp__list_snapshots": ("staging", ["raw/mailchimp__lists"]),
    "staging/stg_mailchimp__member_engagement": (
        "staging",
        ["raw/mailchimp__campaign_opens", "raw/mailchimp__members"],
    ),
    "staging/stg_manual__metrics": ("staging", ["raw/manual__metrics"]),
    "staging/stg_meta_ads__campaign_days": (
        "staging",
        ["raw/meta_ads__campaign_insights", "staging/stg_settings__fx_rates"],
    ),
    "staging/stg_settings__fx_rates": ("staging", ["kpis/parameters"]),
    "staging/stg_stripe__balance_transactions": (
        "staging",
        ["raw/stripe__balance_transactions", "staging/stg_settings__fx_rates"],
    ),
    "staging/stg_stripe__charges": (
        "staging",
        ["raw/stripe__balance_transactions", "raw/stripe__charges", "raw/stripe__customers"],
    ),
    "staging/stg_stripe__invoice_lines": (
        "staging",
        ["raw/stripe__invoices", "staging/stg_settings__fx_rates"],
    ),
}


def test_asset_graph_snapshot():
    defs = build_definitions(load_config("kpi.yaml"))
    graph = defs.resolve_asset_graph()
    actual = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        actual[key.to_user_string()] = (
            node.group_name,
            sorted(k.to_user_string() for k in node.parent_keys),
        )
    assert actual == GRAPH


# daily partitions only where a stream returns its data by day
# (docs/ARCHITECTURE.md#partitions-fit-the-data)
UNPARTITIONED_RAW = {
    "raw/instagram__account": "a follower count as of now",
    "raw/mailchimp__lists": "list stats as of now",
    "raw/mailchimp__members": "membership as of now",
    "raw/mailchimp__growth_history": "one row per month",
    "raw/manual__metrics": "the whole CSV file",
    "raw/stripe__charges": "whole history (first load takes all)",
    "raw/stripe__balance_transactions": "whole history (first load takes all)",
    "raw/stripe__customers": "whole history (first load takes all)",
    "raw/hubspot__contacts": "changes by last modification, upserted (first load takes all)",
    "raw/hubspot__deals": "changes by last modification, upserted (first load takes all)",
}


def test_partitions_fit_the_data_and_every_writer_is_in_the_pool():
    defs = build_definitions(load_config("kpi.yaml"))
    graph = defs.resolve_asset_graph()
    daily = set()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        if name.startswith("raw/") and name not in UNPARTITIONED_RAW:
            daily.add(name)
            partitions = node.partitions_def
            assert isinstance(partitions, dg.DailyPartitionsDefinition)
            assert (
                partitions.timezone == "Europe/Brussels"
                and partitions.start.date().isoformat() == "2025-10-01"
            )
            assert node.backfill_policy == dg.BackfillPolicy.single_run()
        else:
            assert node.partitions_def is None, name
        if name.startswith("raw/"):
            assert name.split("/")[1].split("__")[0] in node.kinds
        if name != "reports/scorecard":
            assert node.pools == {"duckdb"}, name
    assert daily == {
        "raw/calendly__invitees",
        "raw/calendly__scheduled_events",
        "raw/ga4__traffic_daily",
        "raw/ga4__users_by_period",
        "raw/ga4__users_comparisons",
        "raw/google_ads__campaign_daily",
        "raw/instagram__daily_totals",
        "raw/instagram__follower_count",
        "raw/mailchimp__campaign_opens",
        "raw/mailchimp__campaign_reports",
        "raw/mailchimp__list_activity",
        "raw/meta_ads__campaign_insights",
        "raw/stripe__invoices",
    }


def test_loading_the_definitions_prints_no_beta_warning():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        import importlib

        import kpi_pipeline.orchestration.assets as assets

        importlib.reload(
            assets
        )  # the package silences the beta features it relies on, in one place
        build_definitions(load_config("kpi.yaml"))
    assert not [w for w in caught if "Beta" in type(w.message).__name__], [
        str(w.message) for w in caught
    ]


def test_every_asset_links_its_code_and_sources_and_snapshots_say_when_they_are_stale(
    tmp_path, monkeypatch
):
    settings = load_config("kpi.yaml")
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        refs = node.metadata["dagster/code_references"].code_references
        path = refs[0].file_path
        name = key.to_user_string()
        if name in (
            "kpis/kpi_daily",
            "kpis/kpi_ranges",
        ):  # generated from the KPIs' formulas in the catalog
            assert path.endswith("dbt_like_sql/kpis/catalog.yml"), name
            assert "as kpi_id" in node.metadata["sql"].md_str, name  # its SQL is shown instead
        elif (
            name.startswith("staging/stg_") and name != "staging/stg_settings__fx_rates"
        ):  # the platform's own
            assert path.endswith(
                f"connectors/{name.removeprefix('staging/stg_').split('__')[0]}/{name}.sql"
            ), name
        elif name.startswith("staging/") or (SQL_DIR / f"{name}.sql").exists():
            assert path.endswith(f"dbt_like_sql/{name}.sql"), name
        elif name.startswith("raw/"):
            assert path.endswith(f"connectors/{name.split('/')[1].split('__')[0]}/connector.py"), (
                name
            )
        else:
            assert path.endswith(".py") and refs[0].line_number > 1, name
        policy = node.freshness_policy
        if name.startswith("raw/") or name == "snapshots/kpi_snapshots":
            # nightly at 03:00: stale when not materialized in the 24 hours before 06:00
            assert isinstance(policy, dg.FreshnessPolicy) and policy.deadline_cron == "0 6 * * *"
            assert (
                policy.timezone == "Europe/Brussels"
                and policy.lower_bound_delta.total_seconds() == 86400
            )
    checks = {k.name for k in graph.asset_check_keys if k.asset_key.path[0] == "staging"}
    assert checks == {"keys_and_values", "row_count"}
    charges = next(
        k
        for k in graph.asset_check_keys
        if k.asset_key.path[-1] == "stg_stripe__charges" and k.name == "keys_and_values"
    )
    assert "one row per business_id, charge_id" in graph.get_check_spec(charges).description

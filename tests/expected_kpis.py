"""The KPIs each setup must score, written by hand from docs/ARCHITECTURE.md#the-public-kpi-catalog.

Tests compare what the pipeline scored with this table, never with the catalog the code ships
(kpi_pipeline.kpi.catalog / catalog.yml): a KPI dropped from catalog.yml, or given the wrong
sources, then fails a test instead of quietly leaving the expected set with it.
"""

from __future__ import annotations

# KPIs one source enables on its own (docs/ARCHITECTURE.md#the-public-kpi-catalog; units_by_product
# is a shipped extra next to sales_by_product).
BY_SOURCE: dict[str, frozenset[str]] = {
    "mailchimp": frozenset(
        {
            "newsletter_subscribers",
            "newsletter_new_subscribers",
            "newsletter_unsubscribes",
            "newsletter_net_growth",
            "newsletter_churn_rate",
            "email_open_rate",
            "email_click_rate",
            "email_click_to_open_rate",
            "newsletter_cold_subscriber_share",
        }
    ),
    "ga4": frozenset(
        {"website_visitors", "organic_search_visitors", "website_sessions", "traffic_share"}
    ),
    "instagram": frozenset(
        {"instagram_followers", "instagram_new_followers", "instagram_follower_growth_rate"}
    ),
    "calendly": frozenset({"intro_calls"}),
    "hubspot": frozenset({"leads"}),
    "stripe": frozenset(
        {
            "new_customers",
            "revenue",
            "orders",
            "average_order_value",
            "sales_by_product",
            "units_by_product",
            "orders_per_customer",
            "repeat_customer_rate",
        }
    ),
    # the hand-kept CSV: the custom KPIs tests/conftest.py declares for it
    "manual": frozenset({"treatments_performed", "support_tickets_solved", "staff_sick_days"}),
}

# Ad KPIs: either ad network enables them (per network and campaign as dimensions).
AD_KPIS = frozenset({"ad_impressions", "ad_clicks", "ad_ctr", "ad_cpc", "ad_spend"})
AD_SOURCES = frozenset({"meta_ads", "google_ads"})

# Conversion cohorts follow people across two platforms: both must be configured.
NEEDS_BOTH: dict[str, frozenset[str]] = {
    "lead_conversion_rate": frozenset({"hubspot", "stripe"}),
    "call_conversion_rate": frozenset({"calendly", "stripe"}),
}

# Only per dimension (channel, product): no total row, so never in a scorecard.
NO_TOTAL = frozenset({"traffic_share", "sales_by_product", "units_by_product"})

# Every built-in id of the public catalog (docs/ARCHITECTURE.md#the-public-kpi-catalog).
BUILTIN = (
    frozenset().union(*(ids for source, ids in BY_SOURCE.items() if source != "manual"))
    | AD_KPIS
    | frozenset(NEEDS_BOTH)
)


def enabled(sources) -> frozenset[str]:
    """Every KPI (totals and per-dimension ones) a setup with ``sources`` computes."""
    sources = set(sources)
    out = set().union(*(BY_SOURCE.get(s, frozenset()) for s in sources))
    if sources & AD_SOURCES:
        out |= AD_KPIS
    out |= {kpi for kpi, needed in NEEDS_BOTH.items() if needed <= sources}
    return frozenset(out)


def scored(sources) -> frozenset[str]:
    """The KPIs with a total that the scorecard of a setup with ``sources`` scores."""
    return enabled(sources) - NO_TOTAL


def needing(source: str) -> frozenset[str]:
    """The KPIs whose only source is ``source`` (what goes stale when it fails)."""
    return BY_SOURCE[source]

"""``kpi demo --businesses N``: a small portfolio of sandbox businesses that differ in sources,
seeded world, history, timezone, currency and targets (so the portfolio view has someone to call).

Written as ordinary business folders (``businesses/<slug>/kpi.yaml``, ``data/``), so everything a
real portfolio does (``--business``, the code locations, the portfolio copy) works on it.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from kpi_pipeline.config.settings import BUSINESSES_DIR

# per-month targets the sandbox's salon roughly meets; each business scales them by its ambition
BASE_MONTH = {
    "newsletter_new_subscribers": 115,
    "newsletter_net_growth": 60,
    "newsletter_churn_rate": 0.02,
    "email_open_rate": 0.35,
    "email_click_rate": 0.06,
    "website_visitors": 3400,
    "website_sessions": 4000,
    "ad_clicks": 4600,
    "ad_ctr": 0.025,
    "ad_spend": 3200,
    "instagram_new_followers": 210,
    "intro_calls": 50,
    "leads": 125,
    "new_customers": 55,
    "call_conversion_rate": 0.40,
    "revenue": 12000,
    "orders": 95,
    "average_order_value": 120,
    "repeat_customer_rate": 0.40,
    "treatments_performed": 300,
    "support_tickets_solved": 65,
}
LOWER_IS_BETTER = {"newsletter_churn_rate", "ad_spend"}
SOURCE_KPIS = {
    "mailchimp": (
        "newsletter_new_subscribers",
        "newsletter_net_growth",
        "newsletter_churn_rate",
        "email_open_rate",
        "email_click_rate",
    ),
    "ga4": ("website_visitors", "website_sessions"),
    "meta_ads": ("ad_clicks", "ad_ctr", "ad_spend"),
    "instagram": ("instagram_new_followers",),
    "calendly": ("intro_calls",),
    "hubspot": ("leads",),
    "stripe": ("new_customers", "revenue", "orders", "average_order_value", "repeat_customer_rate"),
    "manual": ("treatments_performed", "support_tickets_solved"),
}
CUSTOM_KPIS = [
    {
        "id": "treatments_performed",
        "label": {"en": "Treatments performed", "nl": "Uitgevoerde behandelingen"},
        "domain": "production",
        "unit": "count",
        "aggregation": "sum",
        "direction": "higher",
    },
    {
        "id": "support_tickets_solved",
        "label": {"en": "Support tickets solved", "nl": "Opgeloste tickets"},
        "domain": "customer_service",
        "unit": "count",
        "aggregation": "sum",
        "direction": "higher",
    },
]


@dataclass(frozen=True)
class Template:
    slug: str
    business: str
    sources: tuple[str, ...]
    seed: int
    months: int  # months of history
    timezone: str = "Europe/Brussels"
    currency: str = "EUR"
    ambition: float = 1.0  # targets = the salon's x ambition (above 1: harder to meet)
    language: str = "en"
    nightly_at: str = "03:00"


TEMPLATES = (
    Template(
        "studio_lumen",
        "Studio Lumen",
        (
            "mailchimp",
            "ga4",
            "meta_ads",
            "google_ads",
            "instagram",
            "stripe",
            "calendly",
            "hubspot",
            "manual",
        ),
        7,
        14,
        ambition=1.0,
    ),
    Template(
        "inkwell_letters",
        "Inkwell Letters",
        ("mailchimp",),
        11,
        6,
        "Europe/London",
        "GBP",
        1.6,
        nightly_at="02:30",
    ),
    Template(
        "harbour_goods",
        "Harbour Goods",
        ("stripe", "meta_ads", "google_ads", "ga4"),
        23,
        9,
        "America/New_York",
        "USD",
        0.8,
        nightly_at="04:00",
    ),
    Template(
        "kalm_fysio",
        "Kalm Fysio",
        ("calendly", "manual"),
        31,
        6,
        "Europe/Amsterdam",
        ambition=1.25,
        language="nl",
    ),
    Template(
        "north_star_coaching",
        "North Star Coaching",
        ("mailchimp", "instagram", "calendly", "hubspot", "stripe"),
        47,
        4,
        "Europe/Dublin",
        ambition=0.9,
        nightly_at="01:30",
    ),
)


def template(i: int) -> Template:
    """The i-th business: the five templates, then more of them on other seeds."""
    base = TEMPLATES[i % len(TEMPLATES)]
    if i < len(TEMPLATES):
        return base
    n = i // len(TEMPLATES) + 1
    return Template(
        f"{base.slug}_{n}",
        f"{base.business} {n}",
        base.sources,
        base.seed + 100 * n,
        base.months,
        base.timezone,
        base.currency,
        round(base.ambition * (0.85 + 0.1 * (n % 4)), 2),
        base.language,
        base.nightly_at,
    )


def _month_start(as_of: dt.date, months_back: int) -> dt.date:
    index = as_of.year * 12 + as_of.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def kpi_yaml(t: Template, as_of: dt.date) -> dict:
    rate = {"USD": 1.08, "GBP": 0.86}.get(t.currency)
    sources: dict = {
        s: ({"path": "data/manual_metrics.csv"} if s == "manual" else {}) for s in t.sources
    }
    if "ga4" in sources:
        sources["ga4"] = {"property_id": "123456789"}
    if "meta_ads" in sources:
        sources["meta_ads"] = {"ad_account_id": "act_1234567890"}
    if "google_ads" in sources:
        sources["google_ads"] = {"customer_id": "1234567890"}
    if "instagram" in sources:
        sources["instagram"] = {"user_id": "17841400000000000"}
    targets = {}
    for source in t.sources:
        for kpi in SOURCE_KPIS.get(source, ()):  # google_ads: the ad KPIs, as meta_ads
            value = BASE_MONTH[kpi] * (1 / t.ambition if kpi in LOWER_IS_BETTER else t.ambition)
            if kpi in ("revenue", "ad_spend", "average_order_value") and rate:
                value *= rate
            is_ratio = isinstance(BASE_MONTH[kpi], float) and BASE_MONTH[kpi] < 1
            value = round(min(value, 0.95), 3) if is_ratio else round(value)
            targets[kpi] = (
                {"month": value}
                if is_ratio
                else {"week": round(value * 12 / 52), "month": value, "quarter": value * 3}
            )
    doc = {
        "business": t.business,
        "timezone": t.timezone,
        "currency": t.currency,
        "demo": True,
        "sandbox_seed": t.seed,
        "history_start": _month_start(as_of, t.months).isoformat(),
        "schedule": {"nightly_at": t.nightly_at},
        "language": t.language,
        "sources": sources,
        "targets": targets,
    }
    if rate:
        doc["fx"] = {"EUR": rate}  # the sandbox's accounts settle in euros
    if "manual" in t.sources:
        doc["custom_kpis"] = CUSTOM_KPIS
    return doc


def manual_csv(path: Path, t: Template, start: dt.date, as_of: dt.date) -> None:
    """Weekly hand-kept totals (a Monday row per KPI), seeded by the business."""
    rng = random.Random(t.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    day = start + dt.timedelta(days=(7 - start.weekday()) % 7)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["date", "kpi_id", "value", "dimension_value"])
        while day <= as_of:
            out.writerow([day.isoformat(), "treatments_performed", rng.randint(55, 85), ""])
            out.writerow([day.isoformat(), "support_tickets_solved", rng.randint(10, 20), ""])
            day += dt.timedelta(days=7)


def write_portfolio(root: Path, count: int, as_of: dt.date) -> list[Path]:
    """``count`` business folders under ``root``/businesses (an existing kpi.yaml is kept: a re-run
    of the demo syncs what is there)."""
    paths = []
    for i in range(count):
        t = template(i)
        folder = root / BUSINESSES_DIR / t.slug
        config = folder / "kpi.yaml"
        if not config.exists():
            folder.mkdir(parents=True, exist_ok=True)
            doc = kpi_yaml(t, as_of)
            config.write_text(
                f"# A sandbox business of `kpi demo --businesses {count}`: "
                "edit it like any kpi.yaml.\n"
                + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
            )
            if "manual" in t.sources:
                manual_csv(
                    folder / "data" / "manual_metrics.csv",
                    t,
                    dt.date.fromisoformat(doc["history_start"]),
                    as_of,
                )
        paths.append(config)
    return paths

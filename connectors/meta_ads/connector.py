"""Meta Ads Insights with ``requests`` against the Graph API (docs/PLATFORMS.md#meta-ads).

Level campaign, one row per campaign per day. Numbers arrive as strings; money in the ad
account's currency as decimal strings; dates in the ad account's timezone. Reach is kept
per campaign-day and never summed across days. A "reduce the amount of data" error (code 1)
halves the date range and tries again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

from connectors.graph import DEFAULT_VERSION, ReduceDataError, graph_classifier
from connectors.http import HttpClient, HttpConnector, RetryPolicy, register_secret
from connectors.meta_ads import PLATFORM
from connectors.pagination import NextUrlPaginator, records_at
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "campaign_insights"
FIELDS = (
    "campaign_id,campaign_name,impressions,reach,clicks,inline_link_clicks,spend,actions,"
    "action_values,account_currency,date_start,date_stop"
)
CHUNK_DAYS = 30
log = logging.getLogger("kpi.meta_ads")


class MetaAdsClient(HttpConnector):
    """Graph API client for one ad account (token as the ``access_token`` parameter)."""

    def __init__(
        self,
        ad_account_id: str,
        access_token: str,
        base_url: str | None = None,
        api_version: str = DEFAULT_VERSION,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
    ):
        register_secret(access_token)
        self.account = ad_account_id if ad_account_id.startswith("act_") else f"act_{ad_account_id}"
        self.token = access_token
        self.http = HttpClient(
            PLATFORM,
            f"{(base_url or 'https://graph.facebook.com').rstrip('/')}/{api_version}",
            timeout=(5.0, timeout),
            policy=policy,
            classifier=graph_classifier(PLATFORM, "sources.meta_ads.access_token"),
            credential_setting="sources.meta_ads.access_token",
        )

    def insights(
        self, since: dt.date, until: dt.date, stream: str
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of campaign-day rows for since..until; halves the range on code 1."""
        try:
            yield from self._insights(since, until, stream)
        except ReduceDataError:
            if since == until:
                raise
            middle = since + (until - since) // 2
            log.warning(
                "meta_ads: Meta asked for less data; splitting %s..%s at %s", since, until, middle
            )
            yield from self.insights(since, middle, stream)
            yield from self.insights(middle + dt.timedelta(days=1), until, stream)

    def _insights(
        self, since: dt.date, until: dt.date, stream: str
    ) -> Iterator[list[dict[str, Any]]]:
        params = {
            "level": "campaign",
            "fields": FIELDS,
            "time_increment": "1",
            "limit": "500",
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "access_token": self.token,
        }
        path = f"/{self.account}/insights"
        paginator = NextUrlPaginator().for_stream(PLATFORM, stream)
        rows: list[list[dict[str, Any]]] = []
        body = self.http.request_json("GET", path, stream=stream, params=params)
        while True:
            rows.append(records_at(body, "data", platform=PLATFORM, stream=stream, where=path))
            paginator.update(body, rows[-1])
            if not paginator.has_next or paginator.next_url is None:
                break
            body = self.http.request_json("GET", paginator.next_url, stream=stream)
        yield from rows  # a range is yielded whole, so a split never duplicates rows


def connect(settings: dict[str, Any]) -> MetaAdsClient:
    return MetaAdsClient(
        settings["ad_account_id"],
        settings["access_token"],
        settings.get("base_url"),
        settings.get("api_version") or DEFAULT_VERSION,
        settings.get("timeout", 60.0),
    )


def fetch_campaign_insights(
    client: MetaAdsClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    start = window.start
    while start <= window.end:
        end = min(window.end, start + dt.timedelta(days=CHUNK_DAYS - 1))
        for rows in client.insights(start, end, "campaign_insights"):
            if rows:
                yield Page(rows, account=client.account)
        start = end + dt.timedelta(days=1)


def _action(kind: str, key: str = "actions"):
    def value(record: dict[str, Any], ctx: StreamContext) -> float | None:
        for item in record.get(key) or []:
            if item.get("action_type") == kind:
                return float(item.get("value") or 0)
        return 0.0

    return value


STREAMS = {
    "campaign_insights": StreamSpec(
        PLATFORM,
        "campaign_insights",
        "Campaign-day delivery: impressions, reach, clicks, spend, purchases.",
        key=("date", "campaign_id"),
        date_column="date",
        lookback_days=28,
        history_days=37 * 30,
        events=True,
        history_note="Meta keeps insights for 37 months",
        columns=(
            Column("date", "DATE", "date_start"),
            Column("campaign_id", "VARCHAR"),
            Column("campaign_name", "VARCHAR"),
            Column("impressions", "BIGINT", required=True),
            Column("reach", "BIGINT"),
            Column("clicks", "BIGINT", required=True),
            Column("inline_link_clicks", "BIGINT"),
            Column("spend", "DECIMAL(18,2)", required=True),
            Column("account_currency", "VARCHAR"),
            Column("purchases", "DOUBLE", derive=_action("offsite_conversion.fb_pixel_purchase")),
            Column(
                "purchase_value",
                "DOUBLE",
                derive=_action("offsite_conversion.fb_pixel_purchase", "action_values"),
            ),
        ),
        currency_column="account_currency",
        fetch=fetch_campaign_insights,
    ),
}

"""An Instagram professional account through the Graph API (docs/PLATFORMS.md#instagram).

- ``account``: followers_count exists only as "now", so it is recorded every day; a backfill
  of an older day says plainly that Instagram keeps no history of it.
- ``follower_count``: new follows per day (time series; only the last 30 days exist).
- ``daily_totals``: reach, profile views and follows/unfollows per day, asked with
  ``metric_type=total_value`` one day at a time and never mixed with time-series metrics.
  Follows and unfollows are 0 when the follow_type breakdown leaves their side out, and unknown
  (NULL) when Instagram sent no breakdown for the day at all.
since/until are at most 30 days apart; the removed ``impressions`` metric is never requested.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from connectors.errors import FatalError
from connectors.graph import DEFAULT_VERSION, graph_classifier
from connectors.http import HttpClient, HttpConnector, RetryPolicy, register_secret
from connectors.instagram import PLATFORM
from connectors.pagination import records_at
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "account"
MAX_SPAN_DAYS = 29  # 30 days apart at most; a DST change makes a 30-day span 30 days + 1 hour


class InstagramClient(HttpConnector):
    def __init__(
        self,
        user_id: str,
        access_token: str,
        base_url: str | None = None,
        api_version: str = DEFAULT_VERSION,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
    ):
        register_secret(access_token)
        self.user_id, self.token = user_id, access_token
        self.http = HttpClient(
            PLATFORM,
            f"{(base_url or 'https://graph.facebook.com').rstrip('/')}/{api_version}",
            timeout=(5.0, timeout),
            policy=policy,
            classifier=graph_classifier(PLATFORM, "sources.instagram.access_token"),
            credential_setting="sources.instagram.access_token",
        )

    def get(self, path: str, stream: str, **params: Any) -> dict[str, Any]:
        return self.http.request_json(
            "GET", path, stream=stream, params={**params, "access_token": self.token}
        )

    def insights(
        self,
        stream: str,
        metrics: str,
        first: dt.date,
        last: dt.date,
        ctx: StreamContext,
        **params: Any,
    ) -> dict[str, Any]:
        """One insights call for business-local days first..last (at most 30 days)."""
        since = int(ctx.local_start(first).timestamp())
        until = int(ctx.local_start(last + dt.timedelta(days=1)).timestamp())
        return self.get(
            f"/{self.user_id}/insights",
            stream,
            metric=metrics,
            period="day",
            since=since,
            until=until,
            **params,
        )


def connect(settings: dict[str, Any]) -> InstagramClient:
    return InstagramClient(
        settings["user_id"],
        settings["access_token"],
        settings.get("base_url"),
        settings.get("api_version") or DEFAULT_VERSION,
        settings.get("timeout", 60.0),
    )


def fetch_account(client: InstagramClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
    body = client.get(
        f"/{client.user_id}",
        "account",
        fields="id,username,followers_count,follows_count,media_count",
    )
    if not isinstance(body, dict) or not body.get(
        "id"
    ):  # `{}` is no account, not an account without followers
        raise FatalError(
            "malformed answer: the account without its id; nothing was loaded",
            platform=PLATFORM,
            stream="account",
            path=f"/{client.user_id}",
            hint="the platform answered 200 without its data; the stored rows are kept; "
            "run the sync again, and report it if it persists",
        )
    yield Page([body], account=client.user_id)


def fetch_follower_count(
    client: InstagramClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    start = window.start
    while start <= window.end:
        end = min(window.end, start + dt.timedelta(days=MAX_SPAN_DAYS - 1))
        body = client.insights("follower_count", "follower_count", start, end, ctx)
        for series in records_at(
            body, "data", platform=PLATFORM, stream="follower_count", where="/insights"
        ):
            rows = [
                v
                for v in series.get("values") or []
                if window.start <= _day_ending(v["end_time"], ctx) <= end
            ]
            if rows:
                yield Page(rows, account=client.user_id)
        start = end + dt.timedelta(days=1)


def fetch_daily_totals(
    client: InstagramClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    day = window.start
    while day <= window.end:
        totals = client.insights(
            "daily_totals", "reach,profile_views", day, day, ctx, metric_type="total_value"
        )
        follows = client.insights(
            "daily_totals",
            "follows_and_unfollows",
            day,
            day,
            ctx,
            metric_type="total_value",
            breakdown="follow_type",
        )
        record: dict[str, Any] = {"day": day.isoformat()}
        for item in [
            *records_at(
                totals, "data", platform=PLATFORM, stream="daily_totals", where="/insights"
            ),
            *records_at(
                follows, "data", platform=PLATFORM, stream="daily_totals", where="/insights"
            ),
        ]:
            total = item.get("total_value") or {}
            record[item["name"]] = total.get("value")
            record.update(_breakdown(item["name"], total))
        yield Page([record], account=client.user_id)
        day += dt.timedelta(days=1)


def _breakdown(metric: str, total: dict[str, Any]) -> dict[str, Any]:
    """``metric.value`` keys of a total_value breakdown. Instagram leaves a side with no accounts
    out of ``results`` (a day without unfollows has no NON_FOLLOWER entry): in a breakdown that is
    there, that side is 0. No breakdown at all says nothing, so its keys stay absent (unknown)."""
    out: dict[str, Any] = {}
    for breakdown in total.get("breakdowns") or []:
        if "follow_type" in (breakdown.get("dimension_keys") or ["follow_type"]):
            out |= {f"{metric}.follower": 0, f"{metric}.non_follower": 0}
        for result in breakdown.get("results") or []:
            out[f"{metric}.{result['dimension_values'][0].lower()}"] = result.get("value")
    return out


def _day_ending(end_time: str, ctx: StreamContext) -> dt.date:
    """Graph's end_time marks the end of the account-local day: the day is the one before."""
    ts = dt.datetime.strptime(end_time, "%Y-%m-%dT%H:%M:%S%z")
    return ctx.local_date(ts - dt.timedelta(seconds=1))


STREAMS = {
    spec.name: spec
    for spec in (
        StreamSpec(
            PLATFORM,
            "account",
            "Followers right now, one snapshot a day (Instagram keeps no history).",
            key=("snapshot_date",),
            date_column="snapshot_date",
            kind="snapshot",
            lookback_days=1,
            history_note="Instagram reports followers_count only as of now",
            columns=(
                Column("snapshot_date", "DATE", derive=lambda r, c: c.snapshot_date),
                Column("user_id", "VARCHAR", "id"),
                Column("username", "VARCHAR"),
                Column("followers_count", "BIGINT", required=True),
                Column("follows_count", "BIGINT"),
                Column("media_count", "BIGINT"),
            ),
            fetch=fetch_account,
        ),
        StreamSpec(
            PLATFORM,
            "follower_count",
            "New follows per day (Instagram serves the last 30 days only).",
            key=("day",),
            date_column="day",
            lookback_days=3,
            history_days=30,
            supplementary=True,
            history_note="Instagram serves follower_count for the last 30 days only",
            columns=(
                Column("day", "DATE", derive=lambda r, c: _day_ending(r["end_time"], c)),
                Column("new_followers", "BIGINT", "value", required=True),
            ),
            fetch=fetch_follower_count,
        ),
        StreamSpec(
            PLATFORM,
            "daily_totals",
            "Reach, profile views, follows and unfollows per day (total_value).",
            key=("day",),
            date_column="day",
            lookback_days=3,
            history_days=730,
            events=True,
            history_note="Instagram keeps account insights for about two years",
            columns=(
                Column("day", "DATE"),
                Column("reach", "BIGINT", required=True),
                Column("profile_views", "BIGINT"),
                Column(
                    "follows", "BIGINT", derive=lambda r, c: r.get("follows_and_unfollows.follower")
                ),
                Column(
                    "unfollows",
                    "BIGINT",
                    derive=lambda r, c: r.get("follows_and_unfollows.non_follower"),
                ),
            ),
            fetch=fetch_daily_totals,
        ),
    )
}

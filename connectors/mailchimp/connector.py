"""Mailchimp Marketing API v3: its streams, fetchers and declarations (docs/PLATFORMS.md#mailchimp).

Every call goes through :class:`~connectors.mailchimp.client.MailchimpClient` (the SDK under our
retry policy, timeout and error parsing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, TypedDict

from connectors.mailchimp import PLATFORM
from connectors.mailchimp.client import MailchimpClient
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "lists"
COLD_AFTER_DAYS = 90


def connect(settings: dict[str, Any]) -> MailchimpClient:
    """Build the client from a source block (api_key, base_url, timeout)."""
    return MailchimpClient(
        settings["api_key"], settings.get("base_url"), settings.get("timeout", 30.0)
    )


# ---------------------------------------------------------------------------- fetchers


def fetch_lists(client: MailchimpClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
    for items in client.paged(
        "lists",
        "/lists",
        client.sdk.lists.get_all_lists,
        "lists",
        exclude_fields=["lists._links", "_links"],
    ):
        for item in items:
            yield Page([item], account=item["id"])


def fetch_list_activity(
    client: MailchimpClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    for list_id in client.list_ids("list_activity"):
        path = f"/lists/{list_id}/activity"
        for items in client.paged(
            "list_activity",
            path,
            client.sdk.lists.get_list_recent_activity,
            "activity",
            list_id=list_id,
            exclude_fields=["_links"],
        ):
            keep = [
                i for i in items if window.start <= dt.date.fromisoformat(i["day"]) <= window.end
            ]
            if keep:
                yield Page(keep, account=list_id)


def fetch_growth_history(
    client: MailchimpClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    first = window.start.replace(day=1)
    for list_id in client.list_ids("growth_history"):
        path = f"/lists/{list_id}/growth-history"
        for items in client.paged(
            "growth_history",
            path,
            client.sdk.lists.get_list_growth_history,
            "history",
            list_id=list_id,
            exclude_fields=["history._links", "_links"],
        ):
            keep = [i for i in items if first <= _month_start(i) <= window.end]
            if keep:
                yield Page(keep, account=list_id)


class _SendTimes(TypedDict):
    """A window as the campaign reports' filter: send_time bounds, which are UTC."""

    since_send_time: str
    before_send_time: str


def _report_window(window: Window, ctx: StreamContext) -> _SendTimes:
    # send_time is UTC; the window is business-local days
    return {
        "since_send_time": ctx.local_start(window.start).isoformat(),
        "before_send_time": ctx.local_start(window.end + dt.timedelta(days=1)).isoformat(),
    }


def fetch_campaign_reports(
    client: MailchimpClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    for items in client.paged(
        "campaign_reports",
        "/reports",
        client.sdk.reports.get_all_campaign_reports,
        "reports",
        exclude_fields=["reports._links", "reports.timeseries", "_links"],
        **_report_window(window, ctx),
    ):
        for item in items:
            yield Page([item], account=item.get("list_id") or "")


def fetch_members(client: MailchimpClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
    for list_id in client.list_ids("members"):
        for items in client.paged(
            "members",
            f"/lists/{list_id}/members",
            client.sdk.lists.get_list_members_info,
            "members",
            list_id=list_id,
            status="subscribed",
            fields=[
                "members.id",
                "members.status",
                "members.timestamp_opt",
                "members.last_changed",
                "total_items",
            ],
        ):
            yield Page(items, account=list_id)


def fetch_campaign_opens(
    client: MailchimpClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    campaigns: list[dict[str, Any]] = []
    for items in client.paged(
        "campaign_opens",
        "/reports",
        client.sdk.reports.get_all_campaign_reports,
        "reports",
        fields=["reports.id", "reports.send_time", "reports.list_id", "total_items"],
        **_report_window(window, ctx),
    ):
        campaigns.extend(items)
    for campaign in campaigns:
        path = f"/reports/{campaign['id']}/open-details"
        for items in client.paged(
            "campaign_opens",
            path,
            client.sdk.reports.get_campaign_open_details,
            "members",
            campaign_id=campaign["id"],
            fields=[
                "members.email_id",
                "members.campaign_id",
                "members.opens_count",
                "members.opens",
                "total_items",
            ],
        ):
            for item in items:
                item.setdefault("campaign_id", campaign["id"])
                item["_send_time"] = campaign["send_time"]
            yield Page(items, account=campaign.get("list_id") or "")


# ---------------------------------------------------------------------------- declarations


def _month_start(record: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(record["month"] + "-01")


def _stock_date(record: dict[str, Any], ctx: StreamContext) -> dt.date | None:
    """The day the month's ``subscribed`` stock stands for: its last day, or now."""
    start = _month_start(record)
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return end if end <= ctx.as_of else ctx.snapshot_date


def _snapshot(record: dict[str, Any], ctx: StreamContext) -> dt.date | None:
    return ctx.snapshot_date


def _last_open(record: dict[str, Any], ctx: StreamContext) -> str | None:
    stamps = [o.get("timestamp") for o in record.get("opens") or [] if o.get("timestamp")]
    return max(stamps) if stamps else None


def _open_dates(record: dict[str, Any], ctx: StreamContext) -> list[dt.date]:
    """Business-local dates of every open, so engagement can be judged for any day."""
    return sorted(
        {ctx.local_date(o["timestamp"]) for o in record.get("opens") or [] if o.get("timestamp")}
    )


def _send_date(key: str) -> Callable[[dict[str, Any], StreamContext], dt.date]:
    return lambda record, ctx: ctx.local_date(record[key])


STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec(
            PLATFORM,
            "lists",
            "Each audience's stats, one snapshot a day (Mailchimp keeps no history).",
            key=("snapshot_date", "list_id"),
            date_column="snapshot_date",
            kind="snapshot",
            lookback_days=1,
            history_note="Mailchimp reports list stats only as of now",
            columns=(
                Column("snapshot_date", "DATE", derive=_snapshot),
                Column("list_id", "VARCHAR", "id"),
                Column("name", "VARCHAR"),
                Column("member_count", "BIGINT", "stats.member_count", required=True),
                Column("unsubscribe_count", "BIGINT", "stats.unsubscribe_count"),
                Column("cleaned_count", "BIGINT", "stats.cleaned_count"),
                Column("campaign_count", "BIGINT", "stats.campaign_count"),
                Column("open_rate", "DOUBLE", "stats.open_rate"),
                Column("click_rate", "DOUBLE", "stats.click_rate"),
            ),
            fetch=fetch_lists,
        ),
        StreamSpec(
            PLATFORM,
            "list_activity",
            "Daily list activity: sends, opens, subscribes, unsubscribes.",
            key=("day", "list_id"),
            date_column="day",
            lookback_days=14,
            history_days=180,
            history_note="Mailchimp serves list activity for the previous 180 days only",
            columns=(
                Column("day", "DATE"),
                Column("list_id", "VARCHAR", from_account=True),
                *(
                    Column(n, "BIGINT")
                    for n in (
                        "emails_sent",
                        "unique_opens",
                        "recipient_clicks",
                        "hard_bounce",
                        "soft_bounce",
                        "subs",
                        "unsubs",
                        "other_adds",
                        "other_removes",
                    )
                ),
            ),
            fetch=fetch_list_activity,
        ),
        StreamSpec(
            PLATFORM,
            "growth_history",
            "Monthly growth: subscribed is a month-end stock, the rest are flows.",
            key=("month", "list_id"),
            date_column="month",
            kind="monthly",
            lookback_days=45,
            columns=(
                Column("month", "DATE", derive=lambda r, c: _month_start(r)),
                Column("list_id", "VARCHAR"),
                Column("stock_date", "DATE", derive=_stock_date),
                *(
                    Column(n, "BIGINT")
                    for n in ("subscribed", "unsubscribed", "cleaned", "pending", "deleted")
                ),
            ),
            fetch=fetch_growth_history,
        ),
        StreamSpec(
            PLATFORM,
            "campaign_reports",
            "One report per sent campaign; opens and clicks keep counting after the send.",
            key=("campaign_id",),
            date_column="send_date",
            lookback_days=30,
            events=True,
            columns=(
                Column("campaign_id", "VARCHAR", "id"),
                Column("send_date", "DATE", derive=_send_date("send_time")),
                Column("send_time", "TIMESTAMPTZ"),
                Column("list_id", "VARCHAR"),
                Column("campaign_title", "VARCHAR"),
                Column("subject_line", "VARCHAR"),
                Column("emails_sent", "BIGINT", required=True),
                Column("hard_bounces", "BIGINT", "bounces.hard_bounces"),
                Column("soft_bounces", "BIGINT", "bounces.soft_bounces"),
                Column("unique_opens", "BIGINT", "opens.unique_opens"),
                Column("opens_total", "BIGINT", "opens.opens_total"),
                Column("unique_subscriber_clicks", "BIGINT", "clicks.unique_subscriber_clicks"),
                Column("clicks_total", "BIGINT", "clicks.clicks_total"),
                Column("unsubscribed", "BIGINT"),
                Column("open_rate", "DOUBLE", "opens.open_rate"),
                Column("click_rate", "DOUBLE", "clicks.click_rate"),
            ),
            fetch=fetch_campaign_reports,
        ),
        StreamSpec(
            PLATFORM,
            "members",
            "Subscribed members, one snapshot a day (for the cold-subscriber share).",
            key=("snapshot_date", "list_id", "member_id"),
            date_column="snapshot_date",
            kind="snapshot",
            lookback_days=1,
            history_note="Mailchimp reports membership only as of now",
            columns=(
                Column("snapshot_date", "DATE", derive=_snapshot),
                Column("list_id", "VARCHAR", from_account=True),
                Column("member_id", "VARCHAR", "id"),
                Column("status", "VARCHAR", required=True),
                Column("timestamp_opt", "TIMESTAMPTZ"),
                Column("last_changed", "TIMESTAMPTZ"),
                # business-local opt-in date; "" (imported before opt-in was recorded) is unknown
                Column(
                    "opt_in_date",
                    "DATE",
                    derive=lambda r, c: (
                        c.local_date(r["timestamp_opt"]) if r.get("timestamp_opt") else None
                    ),
                ),
            ),
            fetch=fetch_members,
        ),
        StreamSpec(
            PLATFORM,
            "campaign_opens",
            "Who opened each campaign and when last (open-details), by send date.",
            key=("campaign_id", "member_id"),
            date_column="send_date",
            lookback_days=COLD_AFTER_DAYS,
            columns=(
                Column("campaign_id", "VARCHAR"),
                Column("send_date", "DATE", derive=_send_date("_send_time")),
                Column("member_id", "VARCHAR", "email_id"),
                Column("opens_count", "BIGINT"),
                Column("last_open_at", "TIMESTAMPTZ", derive=_last_open),
                Column("open_dates", "DATE[]", derive=_open_dates),
            ),
            fetch=fetch_campaign_opens,
        ),
    )
}

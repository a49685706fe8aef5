"""Mailchimp Marketing API v3 through its official SDK (docs/PLATFORMS.md#mailchimp).

The SDK has no retries, a 120 s default timeout, and hands back problem+json error bodies
as raw strings (their content type is not ``application/json``), so every call goes
through :meth:`MailchimpClient.call`: our retry policy, a real timeout, and errors parsed
and classified like any other platform's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any, TypedDict

import mailchimp_marketing as MailchimpMarketing
import requests
from mailchimp_marketing.api_client import ApiClientError

from connectors.errors import ConfigurationError, FatalError, RetriableError
from connectors.http import (
    CallStats,
    RetryPolicy,
    bad_body,
    call_with_retries,
    classify_status,
    parse_retry_after,
    register_secret,
)
from connectors.mailchimp import PLATFORM
from connectors.pagination import OffsetPaginator
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "lists"
PAGE_SIZE = 1000
COLD_AFTER_DAYS = 90


class MailchimpClient:
    """The SDK client with our retry, timeout and error policy.

    Args:
        api_key: ``<key>-<dc>``; the suffix names the data center.
        base_url: overrides ``https://<dc>.api.mailchimp.com/3.0`` (sandbox, proxies).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not api_key or "-" not in api_key:
            raise ConfigurationError(
                "the API key has no data-center suffix (like -us6)",
                platform=PLATFORM,
                hint="set sources.mailchimp.api_key to the full key, e.g. ...-us6",
            )
        register_secret(api_key)
        # the SDK sends HTTP Basic auth as ("user", key): its base64 form is the key too
        register_secret(base64.b64encode(f"user:{api_key}".encode()).decode())
        self.sdk = MailchimpMarketing.Client()
        self.sdk.set_config(
            {"api_key": api_key, "server": api_key.rsplit("-", 1)[1], "timeout": timeout}
        )
        if base_url:
            self.sdk.api_client.host = base_url.rstrip("/")
            # the SDK replaces every "server" substring in the URL with the data center;
            # with an explicit base URL there is nothing to replace
            self.sdk.api_client.server = ""
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        # The SDK's errors carry no headers; keep the last response to read Retry-After and
        # X-Request-Id from it (the SDK's own request method, wrapped on this instance only).
        self.last_response: requests.Response | None = None
        send = self.sdk.api_client.request

        def request(*args: Any, **kwargs: Any) -> requests.Response:
            self.last_response = None
            self.last_response = send(*args, **kwargs)
            return self.last_response

        self.sdk.api_client.request = request

    def call(self, stream: str, path: str, fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        """One SDK call under the shared retry policy; returns the JSON body."""

        def attempt() -> dict[str, Any]:
            try:
                result = fn(**kwargs)
            except ApiClientError as err:
                raise _classify(err, stream, path, self.last_response) from None
            if isinstance(
                result, requests.Response
            ):  # SDK returns the response when the body is not JSON
                if not result.ok:
                    raise classify_status(
                        result.status_code,
                        platform=PLATFORM,
                        stream=stream,
                        path=path,
                        message=result.reason or "error without a body",
                        request_id=result.headers.get("X-Request-Id"),
                        credential_setting="sources.mailchimp.api_key",
                    )
                if _empty_object(
                    result
                ):  # the SDK hands back `{}` as the response: a page without its list
                    return {}
                raise bad_body(
                    PLATFORM,
                    stream,
                    path,
                    result.status_code,
                    result.headers.get("Content-Type"),
                    result.headers.get("X-Request-Id"),
                )
            if isinstance(result, str) and (parsed := _json_object(result)) is not None:
                return parsed  # JSON under another content type (problem+json): judged by its keys
            if isinstance(result, str):  # the SDK hands back a body that is not JSON as text
                headers = self.last_response.headers if self.last_response is not None else {}
                raise bad_body(
                    PLATFORM,
                    stream,
                    path,
                    getattr(self.last_response, "status_code", None),
                    headers.get("Content-Type"),
                    headers.get("X-Request-Id"),
                )
            if not isinstance(result, dict):
                raise FatalError(
                    f"unexpected body of type {type(result).__name__}",
                    platform=PLATFORM,
                    stream=stream,
                    path=path,
                )
            return result

        return call_with_retries(attempt, self.policy, self.stats)

    def paged(
        self,
        stream: str,
        path: str,
        fn: Callable[..., Any],
        items_key: str,
        page_size: int = PAGE_SIZE,
        **kwargs: Any,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the ``items_key`` list of each page, offset-paging until the last page."""
        paginator = OffsetPaginator(page_size).for_stream(PLATFORM, stream)
        params = paginator.first_params()
        while True:
            body = self.call(stream, path, fn, **kwargs, **params)
            items = body.get(items_key)
            if not isinstance(items, list):
                raise FatalError(
                    f"malformed answer: no '{items_key}' list of records; nothing was loaded",
                    platform=PLATFORM,
                    stream=stream,
                    path=path,
                    hint="the platform answered 200 without its data (an outage or a changed API); "
                    "the stored rows are kept; run the sync again, and report it if it persists",
                )
            yield items
            paginator.update(body, items)
            if not paginator.has_next:
                return
            params = paginator.next_params()

    def list_ids(self, stream: str) -> list[str]:
        ids: list[str] = []
        for items in self.paged(
            stream,
            "/lists",
            self.sdk.lists.get_all_lists,
            "lists",
            fields=["lists.id", "total_items"],
        ):
            ids.extend(item["id"] for item in items)
        return ids


def _json_object(text: str) -> dict[str, Any] | None:
    """``text`` parsed when it is a JSON object, else None."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _empty_object(response: requests.Response) -> bool:
    """Whether a response's body is the JSON ``{}`` (the SDK returns such a response,
    not a dict)."""
    try:
        return response.json() == {}
    except ValueError:
        return False


def _classify(
    err: ApiClientError, stream: str, path: str, response: requests.Response | None
) -> Exception:
    if err.status_code is None:  # network failure wrapped by the SDK
        return RetriableError(
            f"{type(err.text).__name__} calling the API",
            platform=PLATFORM,
            stream=stream,
            path=path,
            hint="check the network or sources.mailchimp.base_url",
        )
    body: Any = err.text
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            body = {"detail": body[:200]}
    body = body if isinstance(body, dict) else {}
    message = " - ".join(str(body[k]) for k in ("title", "detail") if body.get(k)) or "error"
    headers = response.headers if response is not None else {}
    request_id = body.get("instance") or body.get("ref_no") or headers.get("X-Request-Id")
    return classify_status(
        err.status_code,
        platform=PLATFORM,
        stream=stream,
        path=path,
        message=message,
        request_id=request_id,
        retry_after=parse_retry_after(headers.get("Retry-After")),
        credential_setting="sources.mailchimp.api_key",
    )


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

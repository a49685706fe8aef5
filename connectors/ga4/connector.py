"""GA4 through the official ``google-analytics-data`` client over REST (docs/PLATFORMS.md#ga4).

Unique users do not add up across days, so besides the daily traffic by channel the
connector asks GA4 for ``totalUsers`` over every exact range the KPIs need (each week,
month, quarter and year, and their like-for-like comparison windows), overall and per
channel. The client has no retry of its own; calls go through the shared policy. A 429
over REST is ``TooManyRequests`` (not ``ResourceExhausted``); an exhausted hourly or daily
token quota waits for the quota to return rather than hammering the property.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests

from connectors.errors import AuthenticationError, ConfigurationError, FatalError, RetriableError
from connectors.ga4 import PLATFORM
from connectors.http import (
    CallStats,
    RetryPolicy,
    bad_body,
    call_with_retries,
    classify_status,
    parse_retry_after,
    register_secret,
)
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

if TYPE_CHECKING:
    from google.analytics.data_v1beta.types import RunReportRequest
    from google.api_core import exceptions as gexc

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "traffic_daily"
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
PAGE_ROWS = 100_000
TRAFFIC_METRICS = ("sessions", "totalUsers", "newUsers", "engagedSessions", "keyEvents")
ALL_CHANNELS = "(all)"
log = logging.getLogger("kpi.ga4")


@lru_cache(maxsize=1)
def _credentials_class() -> Any:
    # late: Google's SDK (~0.3 s), imported by a GA4 client only, not by every process that lists
    # the platforms' streams (the definitions of a business without GA4 included)
    from google.oauth2 import service_account

    class _Credentials(service_account.Credentials):
        """A service account whose access tokens are registered for redaction the moment they are
        minted (a server that echoes the token in an error must not put it in a log)."""

        def refresh(self, request: Any) -> None:
            try:
                super().refresh(request)
            finally:
                register_secret(self.token)

    return _Credentials


class Ga4Client:
    """One GA4 property through the official client.

    Args:
        credentials_file: a service-account key file (the account is a Viewer on the property).
        base_url: the client's api_endpoint (sandbox, proxies); ``http://`` is honoured.
    """

    def __init__(
        self,
        property_id: str,
        credentials_file: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        # late: see _credentials_class
        from google.analytics.data_v1beta import BetaAnalyticsDataClient

        try:
            credentials = _credentials_class().from_service_account_file(
                credentials_file, scopes=[SCOPE]
            )
        except (OSError, ValueError) as err:
            raise ConfigurationError(
                f"cannot read the service-account key file ({type(err).__name__})",
                platform=PLATFORM,
                hint="set sources.ga4.credentials_file to a service-account JSON key file",
            ) from None
        options = {"api_endpoint": base_url.rstrip("/")} if base_url else None
        self.client = BetaAnalyticsDataClient(
            credentials=credentials, transport="rest", client_options=options
        )
        self.property = f"properties/{property_id}"
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        self.time_zone: str | None = None
        self.quota: dict[str, dict[str, int]] = {}

    def report(
        self, stream: str, dimensions: list[str], metrics: list[str], start: dt.date, end: dt.date
    ) -> Iterator[dict[str, str]]:
        """Rows as {header: value} dicts for one date range, paging by limit/offset."""
        # late: see _credentials_class
        from google.analytics.data_v1beta.types import (
            DateRange,
            Dimension,
            Metric,
            OrderBy,
            RunReportRequest,
        )

        offset = 0
        while True:
            request = RunReportRequest(
                property=self.property,
                date_ranges=[DateRange(start_date=start.isoformat(), end_date=end.isoformat())],
                dimensions=[Dimension(name=d) for d in dimensions],
                metrics=[Metric(name=m) for m in metrics],
                limit=PAGE_ROWS,
                offset=offset,
                return_property_quota=True,
                order_bys=[
                    OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name=d))
                    for d in dimensions
                ],
            )
            response = call_with_retries(
                lambda: self._run(request, stream),  # noqa: B023 - runs in this iteration
                self.policy,
                self.stats,
            )
            self._note(response)
            if len(response.metric_headers) != len(metrics):
                # an empty report omits rows and rowCount but always names the metrics it was asked
                # for (docs/PLATFORMS.md#ga4): without them the answer (`{}` with 200) says
                # nothing about the window
                got = len(response.metric_headers)
                raise FatalError(
                    f"malformed answer: a report without its metricHeaders ({got} of "
                    f"{len(metrics)}); nothing was loaded",
                    platform=PLATFORM,
                    stream=stream,
                    path=f"{self.property}:runReport",
                    hint="the platform answered 200 without its data; the stored rows are kept; "
                    "run the sync again, and report it if it persists",
                )
            names = [h.name for h in response.dimension_headers] + [
                h.name for h in response.metric_headers
            ]
            rows = list(response.rows)  # a report with no data has no rows key at all
            for row in rows:
                values = [v.value for v in row.dimension_values] + [
                    v.value for v in row.metric_values
                ]
                yield dict(zip(names, values, strict=False))
            if not rows and offset < response.row_count:
                raise FatalError(
                    f"the API returned an empty page at offset {offset} of {response.row_count} "
                    "rows: paging ended before the data did",
                    platform=PLATFORM,
                    stream=stream,
                    hint="run the sync again (nothing of this window was stored)",
                )
            offset += len(rows)
            if not rows or offset >= response.row_count:
                return

    def _run(self, request: RunReportRequest, stream: str):
        # late: see _credentials_class
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth_exc
        from google.protobuf import json_format

        try:
            return self.client.run_report(request=request, timeout=self.timeout)
        except gexc.GoogleAPICallError as err:
            raise _classify(err, stream) from None
        except auth_exc.RefreshError as err:
            retriable = getattr(err, "retryable", False)
            cls = RetriableError if retriable else AuthenticationError
            raise cls(
                f"could not get an access token ({str(err)[:120]})",
                platform=PLATFORM,
                stream=stream,
                hint="check sources.ga4.credentials_file (the service account and its key)",
            ) from None
        except json_format.ParseError as err:
            raise bad_body(PLATFORM, stream, None, None, None, detail=str(err)[:80]) from None
        except (auth_exc.TransportError, requests.ConnectionError, requests.Timeout) as err:
            raise RetriableError(
                f"{type(err).__name__} calling the API",
                platform=PLATFORM,
                stream=stream,
                hint="check the network or sources.ga4.base_url",
            ) from None

    def _note(self, response: Any) -> None:
        zone = response.metadata.time_zone
        if zone:
            self.time_zone = zone
        quota = response.property_quota
        if quota:
            self.quota = {
                name: {
                    "consumed": getattr(quota, name).consumed,
                    "remaining": getattr(quota, name).remaining,
                }
                for name in ("tokens_per_day", "tokens_per_hour", "concurrent_requests")
            }
            log.info("ga4 property quota: %s", self.quota)


def _classify(err: gexc.GoogleAPICallError, stream: str):
    response = getattr(err, "response", None)
    headers = response.headers if response is not None else {}
    message = str(getattr(err, "message", err))
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if err.code == 429 and retry_after is None:
        retry_after = _quota_wait(message)
    return classify_status(
        err.code,
        platform=PLATFORM,
        stream=stream,
        path=None,
        message=message,
        request_id=headers.get("x-goog-request-id"),
        retry_after=retry_after,
        # GA4 answers 403 for a property that does not exist as for one it may not see
        credential_setting="sources.ga4.property_id and sources.ga4.credentials_file",
    )


def _quota_wait(message: str) -> float | None:
    """Token quotas return on the hour (hourly) or at midnight Pacific (daily)."""
    now = dt.datetime.now(ZoneInfo("America/Los_Angeles"))
    text = message.lower()
    if "per hour" in text:
        return (60 - now.minute) * 60.0 - now.second
    if "per day" in text:
        tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (tomorrow - now).total_seconds()
    return None


def connect(settings: dict[str, Any]) -> Ga4Client:
    return Ga4Client(
        settings["property_id"],
        settings["credentials_file"],
        settings.get("base_url"),
        settings.get("timeout", 60.0),
    )


def _check_zone(client: Ga4Client, ctx: StreamContext) -> None:
    if client.time_zone and client.time_zone != ctx.timezone:
        ctx.warn(
            f"ga4: the property reports days in {client.time_zone}, the business in "
            f"{ctx.timezone}; GA4 days are kept as the property reports them"
        )


def fetch_traffic_daily(client: Ga4Client, window: Window, ctx: StreamContext) -> Iterator[Page]:
    by_channel = list(
        client.report(
            "traffic_daily",
            ["date", "sessionDefaultChannelGroup"],
            list(TRAFFIC_METRICS),
            window.start,
            window.end,
        )
    )
    totals = [
        {**r, "sessionDefaultChannelGroup": ALL_CHANNELS}
        for r in client.report(
            "traffic_daily", ["date"], list(TRAFFIC_METRICS), window.start, window.end
        )
    ]
    _check_zone(client, ctx)
    for rows in (by_channel, totals):
        if rows:
            yield Page(rows, account=client.property)


def _users(client: Ga4Client, stream: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    rows = [
        {**r, "sessionDefaultChannelGroup": ALL_CHANNELS}
        for r in client.report(stream, [], ["totalUsers"], start, end)
    ]
    rows += list(client.report(stream, ["sessionDefaultChannelGroup"], ["totalUsers"], start, end))
    return [{**r, "startDate": start.isoformat(), "endDate": end.isoformat()} for r in rows]


def fetch_users_by_period(client: Ga4Client, window: Window, ctx: StreamContext) -> Iterator[Page]:
    spans = sorted(
        {
            (s, e)
            for kind, s, e, _ in ctx.ranges
            if kind == "period" and window.start <= e <= window.end
        }
    )
    for start, end in spans:
        rows = _users(client, "users_by_period", start, end)
        if rows:
            yield Page(rows, account=client.property)


def fetch_users_comparisons(
    client: Ga4Client, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    # whole past periods (*_full) are users_by_period's ranges already
    spans = sorted(
        {
            (s, e)
            for kind, s, e, is_open in ctx.ranges
            if kind in ("previous", "last_year") and is_open
        }
    )
    for start, end in spans:
        rows = [
            {**r, "asOf": ctx.as_of.isoformat()}
            for r in _users(client, "users_comparisons", start, end)
        ]
        if rows:
            yield Page(rows, account=client.property)


def _ymd(record: dict[str, Any], ctx: StreamContext) -> dt.date:
    return dt.datetime.strptime(record["date"], "%Y%m%d").date()


_USER_COLUMNS = (
    Column("start_date", "DATE", "startDate"),
    Column("end_date", "DATE", "endDate"),
    Column("channel", "VARCHAR", "sessionDefaultChannelGroup"),
    Column("total_users", "BIGINT", "totalUsers", required=True),
)

STREAMS = {
    spec.name: spec
    for spec in (
        StreamSpec(
            PLATFORM,
            "traffic_daily",
            "Daily sessions, users and key events per channel, and for all channels.",
            key=("date", "channel"),
            date_column="date",
            lookback_days=3,
            events=True,
            columns=(
                Column("date", "DATE", derive=_ymd),
                Column("channel", "VARCHAR", "sessionDefaultChannelGroup"),
                Column("sessions", "BIGINT", required=True),
                Column("total_users", "BIGINT", "totalUsers", required=True),
                Column("new_users", "BIGINT", "newUsers"),
                Column("engaged_sessions", "BIGINT", "engagedSessions"),
                Column("key_events", "BIGINT", "keyEvents"),
            ),
            fetch=fetch_traffic_daily,
        ),
        StreamSpec(
            PLATFORM,
            "users_by_period",
            "Unique users of each week, month, quarter and year, asked for exactly.",
            key=("start_date", "end_date", "channel"),
            date_column="end_date",
            lookback_days=3,
            columns=_USER_COLUMNS,
            fetch=fetch_users_by_period,
        ),
        StreamSpec(
            PLATFORM,
            "users_comparisons",
            "Unique users of the like-for-like windows of the open periods.",
            key=("as_of_date", "start_date", "end_date", "channel"),
            date_column="as_of_date",
            kind="as_of",
            lookback_days=1,
            columns=(Column("as_of_date", "DATE", "asOf"), *_USER_COLUMNS),
            fetch=fetch_users_comparisons,
        ),
    )
}

"""Google Ads API over REST with ``requests``: googleAds:searchStream (docs/PLATFORMS.md).

The access token comes from the OAuth refresh-token flow (the token endpoint is
configurable, so the sandbox can serve it). Every call sends ``developer-token`` and, when
set, ``login-customer-id``. searchStream answers a JSON array of batches with camelCase
fields, int64 values as strings and money in micros; dates are in the account's timezone.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

import requests

from connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ErrorContext,
    FatalError,
    RateLimitedError,
)
from connectors.google_ads import PLATFORM
from connectors.http import HttpClient, HttpConnector, RetryPolicy, register_secret
from connectors.names import NameCheck
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "campaign_daily"
# Google releases four majors a year and serves each for about 12 months
# (docs/PLATFORMS.md#google-ads-versions); the sunset dates are Google's announcements, an
# "expected" one is the release month + 12 months until Google announces it. Keep this table
# current: `kpi check --online` reads it.
SUNSETS: dict[str, tuple[dt.date, bool]] = {  # version -> (sunset, announced)
    "v19": (dt.date(2026, 2, 11), True),
    "v20": (dt.date(2026, 6, 10), True),
    "v21": (dt.date(2026, 8, 5), True),
    "v22": (dt.date(2026, 10, 7), True),
    "v23": (dt.date(2027, 1, 1), False),
    "v24": (dt.date(2027, 4, 1), False),
    "v25": (dt.date(2027, 7, 1), False),
    "v26": (dt.date(2027, 10, 1), False),
}
DEFAULT_VERSION = "v26"  # the latest (October 2026)
WARN_DAYS = 60  # `kpi check --online` warns this long before a version's sunset
TOKEN_URI = "https://oauth2.googleapis.com/token"
QUERY = (
    "SELECT segments.date, campaign.id, campaign.name, metrics.impressions, metrics.clicks, "
    "metrics.cost_micros, metrics.conversions, metrics.conversions_value FROM campaign "
    "WHERE segments.date BETWEEN '{since}' AND '{until}' ORDER BY segments.date"
)
log = logging.getLogger("kpi.google_ads")


def version_notice(version: str, today: dt.date) -> tuple[str, str] | None:
    """("error"|"warning", text) when ``version`` is sunset, near its sunset or unknown;
    else None."""
    if version not in SUNSETS:
        known = ", ".join(v for v, (end, _) in SUNSETS.items() if end > today)
        return (
            "warning",
            f"{version} is not a Google Ads API version this connector knows; "
            f"supported: {known} (default {DEFAULT_VERSION})",
        )
    sunset, announced = SUNSETS[version]
    when = (
        f"on {sunset}"
        if announced
        else f"around {sunset:%Y-%m} (expected; Google has not announced the date)"
    )
    if sunset <= today and announced:
        return (
            "error",
            f"{version} was sunset by Google {when}: every request fails; "
            f"set it to {DEFAULT_VERSION} (or remove it for the default)",
        )
    if sunset - today <= dt.timedelta(days=WARN_DAYS):
        return (
            "warning",
            f"{version} sunsets {when}, in {max((sunset - today).days, 0)} days: "
            f"move to {DEFAULT_VERSION} (or remove it for the default)",
        )
    return None


def _ads_classifier(
    response: requests.Response, stream: str | None, path: str
) -> ConnectorError | None:
    """GoogleAdsFailure: the error family decides (quota, authentication, authorization, query)."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    failures = [
        e
        for d in error.get("details") or []
        if "GoogleAdsFailure" in str(d.get("@type"))
        for e in d.get("errors") or []
    ]
    request_id = response.headers.get("request-id") or next(
        (d.get("requestId") for d in error.get("details") or [] if d.get("requestId")), None
    )
    family, code = (
        next(iter((failures[0].get("errorCode") or {"": ""}).items())) if failures else ("", "")
    )
    message = (failures[0].get("message") if failures else None) or error.get("message", "error")
    common = ErrorContext(
        platform=PLATFORM,
        stream=stream,
        status=response.status_code,
        path=path,
        request_id=request_id,
    )
    text = f"{family}.{code}: {message}" if family else message
    if family == "quotaError" or response.status_code == 429:
        delay = (
            (failures[0].get("details") or {}).get("quotaErrorDetails", {}).get("retryDelay")
            if failures
            else None
        )
        seconds = (
            float(delay.rstrip("s"))
            if isinstance(delay, str) and delay.rstrip("s").replace(".", "").isdigit()
            else None
        )
        return RateLimitedError(text, **common, retry_after=seconds)
    if family == "authenticationError":
        return AuthenticationError(
            text,
            **common,
            hint="check sources.google_ads developer_token, client_id, "
            "client_secret and refresh_token",
        )
    if family == "authorizationError":
        hint = (
            "set sources.google_ads.login_customer_id to the manager account that grants access"
            if "login-customer-id" in message
            else "the Google account lacks access to sources.google_ads.customer_id"
        )
        return AuthenticationError(text, **common, hint=hint)
    if family == "requestError" and code == "UNSUPPORTED_VERSION":
        return ConfigurationError(
            text,
            **common,
            hint=f"set sources.google_ads.api_version to {DEFAULT_VERSION} "
            "(or remove it for the default)",
        )
    if family in ("queryError", "requestError", "fieldError"):
        return ConfigurationError(
            text, **common, hint="the query or sources.google_ads.customer_id is wrong"
        )
    return None


class GoogleAdsClient(HttpConnector):
    def __init__(
        self,
        customer_id: str,
        developer_token: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        login_customer_id: str | None = None,
        base_url: str | None = None,
        token_uri: str | None = None,
        api_version: str = DEFAULT_VERSION,
        timeout: float = 120.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        for secret in (developer_token, client_id, client_secret, refresh_token):
            register_secret(secret)
        self.customer_id = customer_id.replace("-", "")
        self.api_version = api_version
        headers = {"developer-token": developer_token}
        if login_customer_id:
            headers["login-customer-id"] = login_customer_id.replace("-", "")
        self.http = HttpClient(
            PLATFORM,
            f"{(base_url or 'https://googleads.googleapis.com').rstrip('/')}/{api_version}",
            headers=headers,
            timeout=(5.0, timeout),
            policy=policy,
            classifier=_ads_classifier,
            credential_setting="sources.google_ads credentials",
        )
        self.token_http = HttpClient(
            PLATFORM,
            token_uri or TOKEN_URI,
            timeout=(5.0, 30.0),
            policy=self.http.policy,
            error_parser=_oauth_error,
            classifier=_oauth_classifier,
            credential_setting="sources.google_ads client_id, client_secret and refresh_token",
        )
        self.token_http.stats = self.http.stats
        self._form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        self._expires = 0.0

    @HttpConnector.policy.setter  # type: ignore[attr-defined]
    def policy(self, value: RetryPolicy) -> None:
        self.http.policy = self.token_http.policy = value  # the token call retries like the rest

    def _authorize(self, stream: str) -> None:
        if time.monotonic() < self._expires:
            return
        body = self.token_http.request_json("POST", "", stream=stream, data=self._form)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise FatalError(
                "the token endpoint answered without an access_token",
                platform=PLATFORM,
                stream=stream,
            )
        register_secret(token)
        self.http.session.headers["Authorization"] = f"Bearer {token}"
        self._expires = time.monotonic() + max(60, int(body.get("expires_in", 3600)) - 60)

    def search_stream(self, query: str, stream: str) -> list[dict[str, Any]]:
        """All result rows of a GAQL query (the batches of the streamed JSON array)."""
        self._authorize(stream)
        body = self.http.request_json(
            "POST",
            f"/customers/{self.customer_id}/googleAds:searchStream",
            stream=stream,
            json={"query": query},
        )
        # `[]` (or batches without `results`: proto3 JSON omits an empty list) is a well-formed
        # empty answer; anything else (`{}`, an object with 200) says nothing about the window
        if not isinstance(body, list) or not all(isinstance(batch, dict) for batch in body):
            got = "an empty object" if body == {} else f"a {type(body).__name__}"
            raise FatalError(
                "malformed answer: searchStream did not answer a JSON array of batches (got "
                f"{got}); nothing was loaded",
                platform=PLATFORM,
                stream=stream,
                path="googleAds:searchStream",
                hint="the platform answered 200 without its data; the stored rows are kept; "
                "run the sync again, and report it if it persists",
            )
        return [row for batch in body for row in batch.get("results", [])]

    def account(self, stream: str) -> dict[str, Any]:
        """The account's timeZone and currencyCode: every day and amount is in these."""
        rows = self.search_stream(
            "SELECT customer.time_zone, customer.currency_code FROM customer", stream
        )
        return rows[0].get("customer", {}) if rows else {}


def _oauth_classifier(
    response: requests.Response, stream: str | None, path: str
) -> ConnectorError | None:
    """OAuth token endpoint: a refused grant or client is a credential problem,
    not a bad request."""
    message, _ = _oauth_error(response)
    if message.split(":")[0] in ("invalid_grant", "invalid_client", "unauthorized_client"):
        return AuthenticationError(
            message,
            platform=PLATFORM,
            stream=stream,
            status=response.status_code,
            path="(token endpoint)",
            hint="check sources.google_ads client_id, client_secret and refresh_token",
        )
    return None


def _oauth_error(response: requests.Response) -> tuple[str, str | None]:
    try:
        body = response.json()
        return f"{body.get('error')}: {body.get('error_description', '')}".strip(), None
    except ValueError:
        return response.text[:200], None


def connect(settings: dict[str, Any]) -> GoogleAdsClient:
    return GoogleAdsClient(
        settings["customer_id"],
        settings["developer_token"],
        settings["client_id"],
        settings["client_secret"],
        settings["refresh_token"],
        settings.get("login_customer_id"),
        settings.get("base_url"),
        settings.get("token_uri"),
        settings.get("api_version") or DEFAULT_VERSION,
        settings.get("timeout", 120.0),
    )


def fetch_campaign_daily(
    client: GoogleAdsClient, window: Window, ctx: StreamContext
) -> Iterator[Page]:
    account = client.account("campaign_daily")
    zone = account.get("timeZone")
    if zone and zone != ctx.timezone:
        ctx.warn(
            f"google_ads: the account reports days in {zone}, the business in {ctx.timezone}; "
            "Google Ads days are kept as the account reports them"
        )
    rows = client.search_stream(
        QUERY.format(since=window.start, until=window.end), "campaign_daily"
    )
    if rows:
        currency = account.get("currencyCode")
        yield Page([{**r, "_account_currency": currency} for r in rows], account=client.customer_id)


STREAMS = {
    "campaign_daily": StreamSpec(
        PLATFORM,
        "campaign_daily",
        "Campaign-day metrics: impressions, clicks, cost, conversions.",
        key=("date", "campaign_id"),
        date_column="date",
        lookback_days=30,
        events=True,
        columns=(
            Column("date", "DATE", "segments.date"),
            Column("campaign_id", "VARCHAR", "campaign.id"),
            Column("campaign_name", "VARCHAR", "campaign.name"),
            Column("impressions", "BIGINT", "metrics.impressions", required=True),
            Column("clicks", "BIGINT", "metrics.clicks"),
            Column("cost_micros", "BIGINT", "metrics.costMicros"),
            Column("conversions", "DOUBLE", "metrics.conversions"),
            Column("conversions_value", "DOUBLE", "metrics.conversionsValue"),
            Column("account_currency", "VARCHAR", "_account_currency"),
        ),
        currency_column="account_currency",
        fetch=fetch_campaign_daily,
    ),
}


def check_settings(settings: Any, today: dt.date) -> NameCheck:
    """`kpi check --online`: the configured (or default)
    API version against Google's sunset dates."""
    configured = settings.api_version
    notice = version_notice(configured or DEFAULT_VERSION, today)
    if notice is None:
        return NameCheck()
    kind, text = notice
    where = (
        "sources.google_ads.api_version"
        if configured
        else "sources.google_ads.api_version (unset: the connector's default; upgrade kpi-pipeline)"
    )
    return (
        NameCheck(errors=[f"{where}: {text}"])
        if kind == "error"
        else NameCheck(warnings=[f"{where}: {text}"])
    )

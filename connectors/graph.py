"""What Instagram and Meta Ads share: the Graph API error envelope and its rate-limit headers.

Graph errors are classified by ``error.code``, not by HTTP status (rate limits arrive as
HTTP 400; "reduce the amount of data" as HTTP 500 with code 1). docs/PLATFORMS.md#meta-graph-api.
"""

from __future__ import annotations

import json

import requests

from connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ErrorContext,
    FatalError,
    RateLimitedError,
    RetriableError,
)
from connectors.http import parse_retry_after

DEFAULT_VERSION = "v23.0"
RATE_LIMIT_CODES = {4, 17, 32, 613}


class ReduceDataError(ConnectorError):
    """Graph code 1 "Please reduce the amount of data": not retried as is; ask for less."""


def regain_access_seconds(response: requests.Response) -> float | None:
    """``estimated_time_to_regain_access`` (minutes) from X-Business-Use-Case-Usage, in seconds."""
    raw = response.headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access") or 0
        for entries in usage.values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    return 60.0 * max(minutes) if minutes and max(minutes) > 0 else None


def graph_classifier(platform: str, token_setting: str):
    """A classifier for :class:`connectors.http.HttpClient` speaking the Graph error envelope."""

    def classify(
        response: requests.Response, stream: str | None, path: str
    ) -> ConnectorError | None:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            return None
        if not isinstance(error, dict) or "code" not in error:
            return None
        code, sub = error.get("code"), error.get("error_subcode")
        text = str(error.get("message", ""))
        message = (
            text if text.startswith("(#") else f"(#{code}{f'/{sub}' if sub else ''}) {text}".strip()
        )
        common = ErrorContext(
            platform=platform,
            stream=stream,
            status=response.status_code,
            path=path,
            request_id=error.get("fbtrace_id") or response.headers.get("x-fb-trace-id"),
        )
        if code in RATE_LIMIT_CODES or (isinstance(code, int) and 80000 <= code <= 80014):
            wait = parse_retry_after(response.headers.get("Retry-After")) or regain_access_seconds(
                response
            )
            return RateLimitedError(
                message,
                **common,
                retry_after=wait,
                hint="Meta is throttling this app or account; the sync waits and retries",
            )
        if code == 1 and "reduce the amount of data" in str(error.get("message", "")).lower():
            return ReduceDataError(message, **common)
        if code in (1, 2) or error.get("is_transient"):
            return RetriableError(message, **common)
        if code == 190 or response.status_code == 401:
            return AuthenticationError(
                message,
                **common,
                hint=f"the token in {token_setting} is invalid or expired; create a new one",
            )
        if code in (10, 200) or (isinstance(code, int) and 200 <= code < 300):
            return AuthenticationError(
                message,
                **common,
                hint=f"the token in {token_setting} lacks a permission this stream needs",
            )
        if code == 100:
            return ConfigurationError(
                message, **common, hint=f"check the ids and settings in sources.{platform}"
            )
        return FatalError(message, **common)

    return classify

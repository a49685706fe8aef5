"""Google Ads API REST emulation: OAuth token endpoint and googleAds:searchStream.

See docs/PLATFORMS.md#google-ads and #sandbox-fidelity.

searchStream answers a JSON array of batches; camelCase; int64 as strings, doubles as
numbers; money in micros; errors carry a GoogleAdsFailure in ``details``; requests need the
``developer-token`` header and honour ``login-customer-id``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from connectors.sandbox.faults import renaming
from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import TIMEZONE, World

CUSTOMER_ID = "1234567890"
MANAGER_ID = "1112223333"
DEVELOPER_TOKEN = "sandbox-dev-token-000000"
CLIENT_ID = "sandbox-client.apps.googleusercontent.com"
CLIENT_SECRET = "sandbox-client-secret"
REFRESH_TOKEN = "sandbox-refresh-token"
VERSION = "v26"
# what Google serves (docs/PLATFORMS.md#google-ads-versions): each major until its sunset. A
# sunset version answers 400 requestError.UNSUPPORTED_VERSION; a version Google never released
# has no route (404).
VERSIONS = ("v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26")
SUNSET = {
    "v19": dt.date(2026, 2, 11),
    "v20": dt.date(2026, 6, 10),
    "v21": dt.date(2026, 8, 5),
    "v22": dt.date(2026, 10, 7),
}
_FIELD = {
    "segments.date": lambda r: {"segments": {"date": r.day.isoformat()}},
    "campaign.id": lambda r: {"campaign": {"id": r.campaign_id}},
    "campaign.name": lambda r: {"campaign": {"name": r.campaign}},
    "metrics.impressions": lambda r: {"metrics": {"impressions": str(r.impressions)}},
    "metrics.clicks": lambda r: {"metrics": {"clicks": str(r.link_clicks)}},
    "metrics.cost_micros": lambda r: {"metrics": {"costMicros": str(r.spend_cents * 10_000)}},
}


def _camel(path: str) -> str:
    head, *rest = path.split("_")
    return head + "".join(p.title() for p in rest)


def _failure(
    status: int,
    detail: str,
    family: str = "requestError",
    code: str = "UNKNOWN",
    extra: dict[str, Any] | None = None,
) -> Response:
    names = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
    request_id = uuid.uuid4().hex[:16]
    error = {"errorCode": {family: code}, "message": detail}
    if extra:
        error["details"] = extra
    body = {
        "error": {
            "code": status,
            "message": detail,
            "status": names.get(status, "UNKNOWN"),
            "details": [
                {
                    "@type": (
                        f"type.googleapis.com/google.ads.googleads.{VERSION}.errors.GoogleAdsFailure"
                    ),
                    "errors": [error],
                    "requestId": request_id,
                }
            ],
        }
    }
    return Response(status, body, headers={"request-id": request_id})


def _default_error(status: int, detail: str) -> Response:
    if status == 429:
        return _failure(
            429,
            "Too many requests. Retry in 30 seconds.",
            "quotaError",
            "RESOURCE_EXHAUSTED",
            {
                "quotaErrorDetails": {
                    "rateScope": "DEVELOPER",
                    "rateName": "Number of operations",
                    "retryDelay": "30s",
                }
            },
        )
    if status == 401:
        return _failure(
            401,
            "Request had invalid authentication credentials.",
            "authenticationError",
            "OAUTH_TOKEN_INVALID",
        )
    return _failure(status, detail, "internalError" if status >= 500 else "requestError", "UNKNOWN")


class GoogleAdsError(ApiError):
    def __init__(self, status: int, detail: str, family: str, code: str) -> None:
        super().__init__(status, detail, _failure(status, detail, family, code))


class GoogleAdsEmulator:
    def extra_settings(self, source: str, url: str) -> dict[str, Any]:
        """Settings that reach this sandbox besides the credentials and base_url:
        its OAuth endpoint."""
        return {"token_uri": url + "/token"}

    def __init__(self, world: World) -> None:
        self.world = world
        self.currency = "EUR"  # the customer account's currency (tests set another)
        self.tokens: set[str] = set()
        self.server = ApiServer("google_ads", _default_error)
        self.server.route("POST", r"/token")(self.token)
        self.server.route("POST", r"/(?P<v>v\d+)/customers/(?P<cid>\d+)/googleAds:searchStream")(
            self.search_stream
        )

    def token(self, req: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Response(
                401,
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
            )
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN:
            return Response(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        token = f"ya29.sandbox-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return Response(
            200,
            {
                "access_token": token,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/adwords",
            },
        )

    def _version(self, version: str) -> None:
        today = self.world.now.date()
        if version in SUNSET and SUNSET[version] <= today:
            raise GoogleAdsError(
                400,
                f"Version {version} is deprecated. Requests to this version will be blocked.",
                "requestError",
                "UNSUPPORTED_VERSION",
            )
        if version not in VERSIONS:
            raise ApiError(
                404,
                "Not Found",
                Response(
                    404,
                    raw=(
                        "<!DOCTYPE html><html lang=en><title>Error 404 (Not "
                        "Found)!!1</title><p><b>404.</b> <ins>That's an error.</ins><p>The "
                        f"requested URL <code>/{version}/customers</code> was not found on this "
                        "server. <ins>That's all we know.</ins>"
                    ).encode(),
                    content_type="text/html; charset=UTF-8",
                ),
            )

    def search_stream(self, req: Request) -> Response:
        assert req.match is not None  # the route that chose this handler matched
        self._version(req.match.group("v"))
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            raise GoogleAdsError(
                401,
                "Request had invalid authentication credentials.",
                "authenticationError",
                "OAUTH_TOKEN_INVALID",
            )
        if req.headers.get("developer-token") != DEVELOPER_TOKEN:
            raise GoogleAdsError(
                403,
                "The developer token is not valid.",
                "authenticationError",
                "DEVELOPER_TOKEN_INVALID",
            )
        login = req.headers.get("login-customer-id")
        if login is not None and login != MANAGER_ID:
            raise GoogleAdsError(
                403,
                "User doesn't have permission to access customer. Note: If you're accessing "
                "a client customer, the manager's customer id must be set in the "
                "'login-customer-id' header.",
                "authorizationError",
                "USER_PERMISSION_DENIED",
            )
        if req.match.group("cid") != CUSTOMER_ID:
            raise GoogleAdsError(
                403,
                "The caller does not have permission",
                "authorizationError",
                "USER_PERMISSION_DENIED",
            )
        query = (req.json().get("query") or "").strip()
        match = re.match(
            r"(?is)select\s+(.+?)\s+from\s+(\w+)(?:\s+where\s+segments\.date\s+between\s+"
            r"'(\d{4}-\d{2}-\d{2})'\s+and\s+'(\d{4}-\d{2}-\d{2})')?(?:\s+order\s+by\s+.+)?$",
            query,
        )
        if not match:
            raise GoogleAdsError(
                400,
                f"Error in query: unexpected input {query[:40]!r}.",
                "queryError",
                "UNEXPECTED_INPUT",
            )
        fields = [f.strip() for f in match.group(1).split(",")]
        resource = match.group(2)
        request_id = uuid.uuid4().hex[:16]
        if resource == "customer":
            customer = {
                "customer": {
                    "resourceName": f"customers/{CUSTOMER_ID}",
                    "timeZone": TIMEZONE,
                    "currencyCode": self.currency,
                }
            }
            return Response(
                200,
                [
                    {
                        "results": [customer],
                        "fieldMask": "customer.timeZone,customer.currencyCode",
                        "requestId": request_id,
                    }
                ],
            )
        unknown = [
            f
            for f in fields
            if f not in _FIELD and f not in ("metrics.conversions", "metrics.conversions_value")
        ]
        if resource != "campaign" or unknown or not match.group(3):
            raise GoogleAdsError(
                400,
                f"Unrecognized field or resource in query: {unknown or resource}.",
                "queryError",
                "UNRECOGNIZED_FIELD",
            )
        since, until = dt.date.fromisoformat(match.group(3)), dt.date.fromisoformat(match.group(4))
        results = []
        for r in sorted(
            self.world.ads.select(since, min(until, self.world.as_of), "google"),
            key=lambda r: (r.day, r.campaign_id),
        ):
            r = replace(
                r, campaign=self.world.ads.name_at(r, self.world.now)
            )  # today's name on every day
            row: dict[str, Any] = {
                "campaign": {"resourceName": f"customers/{CUSTOMER_ID}/campaigns/{r.campaign_id}"}
            }
            count, value = self.world.ads.known_conversions(r)
            for f in fields:
                part = (
                    _FIELD[f](r)
                    if f in _FIELD
                    else {
                        "metrics": {
                            _camel(f.split(".")[1]): float(
                                count if f == "metrics.conversions" else value
                            )
                        }
                    }
                )
                for key, inner in part.items():
                    row.setdefault(key, {}).update(inner)
            results.append(row)
        mask = ",".join(".".join(_camel(p) for p in f.split(".")) for f in fields)
        batches = [
            {"results": results[i : i + 10_000], "fieldMask": mask, "requestId": request_id}
            for i in range(0, len(results), 10_000)
        ] or [{"fieldMask": mask, "requestId": request_id}]
        return Response(200, batches)


# what the sandbox reads (connectors/sandbox/__init__.py)
CREDENTIALS = {
    "google_ads": {
        "customer_id": CUSTOMER_ID,
        "developer_token": DEVELOPER_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
}


def emulate(world: World, **_options: Any) -> GoogleAdsEmulator:
    return GoogleAdsEmulator(world)


# where tests/test_faults.py injects its faults: the data stream, its requests (a path regex), the
# records of an answer, a numeric field and the key field of a record ("" when there is none), and
# its own answer for a window without data (docs/PLATFORMS.md#empty-answers)
FAULT_TARGETS = {
    "google_ads": dict(
        stream="campaign_daily",
        path=r"googleAds:searchStream",
        empty=lambda body, req: [
            {k: v for k, v in batch.items() if k != "results"} for batch in body
        ],  # no results
        expired=dict(
            status=400,
            body={
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            },
            path=r"/token",
        ),  # how Google says a credential expired or was revoked
        renamed=(
            renaming(
                lambda b: [
                    row.get("metrics", {}) for batch in b for row in batch.get("results", [])
                ],
                "impressions",
                "impressionCount",
            ),
            "metrics.impressions",
        ),
    )
}

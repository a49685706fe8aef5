"""Meta Graph API emulation: Ads Insights and Instagram account insights.

See docs/PLATFORMS.md#meta-graph-api, #instagram, #meta-ads and #sandbox-fidelity.

Graph error envelope (code, error_subcode, type, fbtrace_id) with HTTP 400 for rate limits
and 500 for code 1; usage headers as JSON strings; numbers as strings in ads insights;
cursor paging with ``paging.cursors.after`` and ``paging.next`` omitted on the last page;
Instagram's 30-day since/until guard, follower_count's 30-day window, metric_type=total_value
demands, and the removed ``impressions`` metric.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from connectors.sandbox.faults import renaming, rewriting
from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import TZ, World

ACCESS_TOKEN = "sandbox-meta-token-0001"
AD_ACCOUNT = "act_1234567890"
IG_USER = "17841400000000000"
USAGE = {
    "X-App-Usage": json.dumps({"call_count": 3, "total_cputime": 1, "total_time": 2}),
    "X-Business-Use-Case-Usage": json.dumps(
        {
            "1234567890": [
                {
                    "type": "ads_insights",
                    "call_count": 2,
                    "total_cputime": 1,
                    "total_time": 1,
                    "estimated_time_to_regain_access": 0,
                }
            ]
        }
    ),
}
TIME_SERIES_ONLY = {"follower_count"}
TOTAL_VALUE_ONLY = {"profile_views", "follows_and_unfollows", "views", "accounts_engaged"}
REMOVED = {"impressions", "video_views", "plays"}


class GraphError(ApiError):
    def __init__(self, status: int, code: int, message: str, subcode: int | None = None) -> None:
        super().__init__(status, message, _graph_error(status, message, code, subcode))


def _graph_error(
    status: int, detail: str, code: int | None = None, subcode: int | None = None
) -> Response:
    code = code or {400: 100, 401: 190, 403: 200, 429: 4, 500: 2, 503: 2}.get(status, 1)
    if status == 429:  # Meta throttles with HTTP 400 and a code, never 429
        status, code, detail = 400, 17, "User request limit reached"
    error: dict[str, Any] = {
        "message": detail,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbC123xyz",
    }
    if subcode:
        error["error_subcode"] = subcode
    return Response(status, {"error": error}, headers={**USAGE, "x-fb-trace-id": "AbC123xyz"})


class MetaEmulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.currency = "EUR"  # the ad account's currency (tests set another)
        self.server = ApiServer("meta", _graph_error)
        self.server.route("GET", r"/(?P<v>v\d+\.0)/act_(?P<acct>\d+)/insights")(self.ads_insights)
        self.server.route("GET", r"/(?P<v>v\d+\.0)/(?P<ig>\d+)/insights")(self.ig_insights)
        self.server.route("GET", r"/(?P<v>v\d+\.0)/(?P<ig>\d+)")(self.ig_account)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _auth(req: Request) -> None:
        token = req.query.get("access_token") or req.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if token != ACCESS_TOKEN:
            raise GraphError(
                400,
                190,
                "Error validating access token: Session has expired on Tuesday, "
                "01-Dec-25 06:00:00 PST.",
                463,
            )

    def _reply(self, body: dict[str, Any]) -> Response:
        return Response(200, body, headers=dict(USAGE))

    # ------------------------------------------------------------------ ads insights

    def ads_insights(self, req: Request) -> Response:
        self._auth(req)
        assert req.match is not None  # the route that chose this handler matched
        if f"act_{req.match.group('acct')}" != AD_ACCOUNT:
            raise GraphError(
                400, 100, "(#100) Unsupported get request. Object with ID does not exist", 33
            )
        if req.query.get("level") != "campaign" or req.query.get("time_increment") != "1":
            raise GraphError(
                400, 100, "(#100) this sandbox serves level=campaign with time_increment=1"
            )
        try:
            span = json.loads(req.query["time_range"])
            since, until = (
                dt.date.fromisoformat(span["since"]),
                dt.date.fromisoformat(span["until"]),
            )
        except (KeyError, ValueError, TypeError):
            raise GraphError(
                400, 100, "(#100) Param time_range must be a JSON object with since and until"
            ) from None
        if (until - since).days > 92:
            raise GraphError(
                500,
                1,
                "Please reduce the amount of data you're asking for, then retry your request",
            )
        fields = [f for f in req.query.get("fields", "").split(",") if f]
        rows = []
        for r in sorted(
            self.world.ads.select(since, min(until, self.world.as_of), "meta"),
            key=lambda r: (r.day, r.campaign_id),
        ):
            purchases, value = self.world.ads.known_conversions(r)
            full = {
                # Meta names every past day after the campaign's name now
                "account_currency": self.currency,
                "campaign_id": r.campaign_id,
                "campaign_name": self.world.ads.name_at(r, self.world.now),
                "impressions": str(r.impressions),
                "reach": str(r.reach),
                "frequency": f"{r.impressions / max(r.reach, 1):.6f}",
                "clicks": str(r.clicks),
                "inline_link_clicks": str(r.link_clicks),
                "spend": f"{r.spend_cents / 100:.2f}",
                "ctr": f"{100 * r.clicks / max(r.impressions, 1):.6f}",
                "actions": [
                    {"action_type": "link_click", "value": str(r.link_clicks)},
                    {
                        "action_type": "offsite_conversion.fb_pixel_purchase",
                        "value": str(purchases),
                    },
                ],
                "action_values": [
                    {"action_type": "offsite_conversion.fb_pixel_purchase", "value": f"{value:.2f}"}
                ],
                "date_start": r.day.isoformat(),
                "date_stop": r.day.isoformat(),
            }
            rows.append(
                {k: v for k, v in full.items() if k in fields or k in ("date_start", "date_stop")}
            )
        limit = int(req.query.get("limit", 25))
        offset = int(base64.b64decode(req.query["after"]).decode()) if req.query.get("after") else 0
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"data": page}
        if page:
            body["paging"] = {
                "cursors": {
                    "before": base64.b64encode(str(offset).encode()).decode(),
                    "after": base64.b64encode(str(offset + len(page)).encode()).decode(),
                }
            }
            if offset + len(page) < len(rows):
                query = {k: v for k, v in req.query.items() if k != "after"}
                after = body["paging"]["cursors"]["after"]
                httpd = self.server._httpd
                assert httpd is not None  # it is serving this request
                body["paging"]["next"] = (
                    f"http://127.0.0.1:{httpd.server_address[1]}{req.path}?"
                    + "&".join(f"{k}={_q(v)}" for k, v in query.items())
                    + f"&after={after}"
                )
        return self._reply(body)

    # ------------------------------------------------------------------ instagram

    def ig_account(self, req: Request) -> Response:
        self._auth(req)
        assert req.match is not None  # the route that chose this handler matched
        if req.match.group("ig") != IG_USER:
            raise GraphError(400, 100, "(#100) Unsupported get request.", 33)
        fields = req.query.get("fields", "id").split(",")
        full = {
            "id": IG_USER,
            "ig_id": 1234567,
            "username": "studiolumen.gent",
            "name": "Studio Lumen",
            "followers_count": self.world.instagram.followers(self.world.as_of),
            "follows_count": 311,
            "media_count": 642,
        }
        return self._reply({k: v for k, v in full.items() if k in fields or k == "id"})

    def ig_insights(self, req: Request) -> Response:
        self._auth(req)
        assert req.match is not None  # the route that chose this handler matched
        if req.match.group("ig") != IG_USER:
            raise GraphError(400, 100, "(#100) Unsupported get request.", 33)
        metrics = [m for m in req.query.get("metric", "").split(",") if m]
        metric_type = req.query.get("metric_type", "time_series")
        for m in metrics:
            if m in REMOVED:
                raise GraphError(
                    400,
                    100,
                    f"(#100) Starting from version 22 and above, the {m} metric is no "
                    "longer supported. Please use views instead.",
                )
            if m not in ("reach", "follower_count", *TOTAL_VALUE_ONLY):
                raise GraphError(
                    400,
                    100,
                    "(#100) metric[0] must be one of the following values: reach, "
                    "follower_count, profile_views, follows_and_unfollows, views",
                )
        wrong = (
            [m for m in metrics if m in TOTAL_VALUE_ONLY] if metric_type != "total_value" else []
        )
        if wrong:
            raise GraphError(
                400,
                100,
                f"(#100) The following metrics ({', '.join(wrong)}) should be specified "
                "with parameter metric_type=total_value",
            )
        if metric_type == "total_value" and any(m in TIME_SERIES_ONLY for m in metrics):
            raise GraphError(
                400,
                100,
                "(#100) follower_count does not support the metric_type=total_value parameter",
            )
        try:
            since, until = int(req.query["since"]), int(req.query["until"])
        except (KeyError, ValueError):
            raise GraphError(400, 100, "(#100) since and until must be UNIX timestamps") from None
        if until - since > 30 * 86400:
            raise GraphError(
                400,
                100,
                "(#100) There cannot be more than 30 days (2592000 s) between since and until",
            )
        first = dt.datetime.fromtimestamp(since, TZ).date()
        last = dt.datetime.fromtimestamp(until - 1, TZ).date()
        today = self.world.as_of + dt.timedelta(days=1)
        if "follower_count" in metrics and first < today - dt.timedelta(days=30):
            raise GraphError(
                400,
                100,
                "(#100) (follower_count) metric only supports querying data for the last "
                "30 days excluding the current day",
            )
        last = min(last, self.world.as_of)
        daily = self.world.instagram.daily
        data: list[dict[str, Any]] = []
        for m in metrics:
            meta = {
                "name": m,
                "period": "day",
                "title": m.replace("_", " ").title(),
                "description": "",
                "id": f"{IG_USER}/insights/{m}/day",
            }
            chosen = [d for d in sorted(daily) if first <= d <= last]
            if metric_type == "total_value":
                if m == "follows_and_unfollows":
                    follows = sum(daily[d]["follows"] for d in chosen)
                    unfollows = sum(daily[d]["unfollows"] for d in chosen)
                    total: dict[str, Any] = {"value": follows + unfollows}
                    if req.query.get("breakdown") == "follow_type":
                        # a side with no accounts is left out of results, not reported as 0
                        results = [
                            {"dimension_values": [side], "value": value}
                            for side, value in (("FOLLOWER", follows), ("NON_FOLLOWER", unfollows))
                            if value
                        ]
                        total["breakdowns"] = [
                            {"dimension_keys": ["follow_type"], "results": results}
                        ]
                else:
                    total = {"value": sum(daily[d][m] for d in chosen)}
                data.append({**meta, "total_value": total})
            else:
                key = "follows" if m == "follower_count" else m
                # end_time marks the end of the account-local day, written in UTC
                values = [
                    {
                        "value": daily[d][key],
                        "end_time": dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), TZ)
                        .astimezone(dt.timezone.utc)
                        .strftime("%Y-%m-%dT%H:%M:%S+0000"),
                    }
                    for d in chosen
                ]
                data.append({**meta, "values": values})
        return self._reply({"data": data})


def _q(value: str) -> str:
    return quote(value, safe="")


# what the sandbox reads (connectors/sandbox/__init__.py): one Graph API host for both platforms
CREDENTIALS = {
    "meta_ads": {"ad_account_id": AD_ACCOUNT, "access_token": ACCESS_TOKEN},
    "instagram": {"user_id": IG_USER, "access_token": ACCESS_TOKEN},
}
ATTRIBUTE = "meta"  # sandbox.meta


def emulate(world: World, **_options: Any) -> MetaEmulator:
    return MetaEmulator(world)


# where tests/test_faults.py injects its faults: the data stream, its requests (a path regex), the
# records of an answer, a numeric field and the key field of a record ("" when there is none), and
# its own answer for a window without data (docs/PLATFORMS.md#empty-answers); expired: how Graph
# says a token expired or was revoked (docs/PLATFORMS.md#errors)
FAULT_TARGETS = {
    "meta_ads": dict(
        stream="campaign_insights",
        path=r"/insights",
        records=lambda b: b["data"],
        typed_field="clicks",
        key_field="campaign_id",
        empty=lambda body, req: {"data": []},
        renamed=(renaming(lambda b: b["data"], "spend", "amount_spent"), "spend"),
        onwards=lambda body, req, url: body.update(paging={"next": f"{url}{req.path}?after=tok-1"}),
        expired=dict(
            status=400,
            body={
                "error": {
                    "message": "Error validating access token: Session has expired",
                    "type": "OAuthException",
                    "code": 190,
                    "error_subcode": 463,
                }
            },
        ),
    ),
    # Instagram's daily totals answer a value for every metric asked (0 included):
    # no empty collection
    "instagram": dict(
        stream="daily_totals",
        path=r"/insights",
        expired=dict(
            status=400,
            body={
                "error": {
                    "message": "Error validating access token: "
                    "The user has not authorized application",
                    "type": "OAuthException",
                    "code": 190,
                    "error_subcode": 458,
                }
            },
        ),
        renamed=(
            rewriting(
                lambda b: [
                    i.update(name="accounts_reached")
                    for i in b.get("data", [])
                    if i.get("name") == "reach"
                ]
            ),
            "reach",
        ),
    ),
}

"""GA4 Data API v1beta emulation, as the official client's REST transport calls it.

See docs/PLATFORMS.md#ga4 and #sandbox-fidelity.

Accepts ``$alt=json;enum-encoding=int``, camelCase bodies, int64-as-string ``limit`` and
``offset``; answers every value as a string, omits ``rows`` and ``rowCount`` when empty,
gives ``metadata.timeZone`` and ``propertyQuota`` on request, enforces 250,000 rows, 9
dimensions and 10 metrics, and answers errors as ``{"error": {code, message, status}}``.
A service-account token endpoint (JWT bearer grant, signature checked) issues the tokens.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import tempfile
import uuid
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.sandbox.faults import rewriting
from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import TIMEZONE, World

PROPERTY_ID = "123456789"
CLIENT_EMAIL = "kpi-pipeline@sandbox-project.iam.gserviceaccount.com"
DIMENSIONS = {"date", "sessionDefaultChannelGroup"}
METRICS = {"sessions", "totalUsers", "newUsers", "engagedSessions", "keyEvents"}
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _google_error(status: int, detail: str) -> Response:
    if status == 429:
        detail = (
            "Exhausted concurrent requests quota. Too many concurrent requests for this property."
        )
    return Response(
        status,
        {"error": {"code": status, "message": detail, "status": STATUS.get(status, "UNKNOWN")}},
    )


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class Ga4Emulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.tokens: set[str] = set()
        self.server = ApiServer("ga4", _google_error)
        self.server.route("POST", r"/token")(self.token)
        self.server.route("POST", r"/v1beta/properties/(?P<pid>\d+):runReport")(self.run_report)
        self.credentials_file: str | None = None

    def started(self, url: str) -> None:
        """The sandbox's hook once the server listens: the key file names its token endpoint."""
        self.write_credentials(url)

    def stopped(self) -> None:
        if self.credentials_file and os.path.exists(self.credentials_file):
            os.unlink(self.credentials_file)

    def extra_settings(self, source: str, url: str) -> dict[str, Any]:
        """Settings that reach this sandbox besides the credentials and base_url."""
        return {"credentials_file": self.credentials_file}

    def write_credentials(self, base_url: str) -> str:
        """A service-account key file whose token_uri is this sandbox."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": "sandbox-project",
            "private_key_id": "sandbox-key-1",
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": f"{base_url}/token",
        }
        handle = tempfile.NamedTemporaryFile(
            "w", prefix="ga4-sandbox-", suffix=".json", delete=False
        )
        with handle:
            json.dump(info, handle)
        self.credentials_file = handle.name
        return handle.name

    # ------------------------------------------------------------------ auth

    def _claims(self, jwt: str) -> dict[str, Any] | None:
        """The claims of a JWT signed with the sandbox service account's key, else None."""
        try:
            header, payload, signature = jwt.split(".")
            self.key.public_key().verify(
                _b64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            return json.loads(_b64(payload))
        except Exception:  # noqa: BLE001 - any malformed or forged token
            return None

    def token(self, req: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(req.body.decode()).items()}
        claims = self._claims(form.get("assertion", ""))
        if claims is None:
            return Response(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        if claims.get("iss") != CLIENT_EMAIL:
            return Response(
                400,
                {"error": "invalid_grant", "error_description": "Invalid grant: account not found"},
            )
        token = f"ya29.sandbox-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return Response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _auth(self, req: Request) -> None:
        header = req.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise ApiError(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        token = header.removeprefix("Bearer ")
        if token in self.tokens:
            return
        # Google's clients often sign their own JWT instead of fetching a token (self-signed JWT)
        claims = self._claims(token)
        if claims is None or claims.get("iss") != CLIENT_EMAIL:
            raise ApiError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )

    # ------------------------------------------------------------------ reports

    def run_report(self, req: Request) -> Response:
        self._auth(req)
        assert req.match is not None  # the route that chose this handler matched
        if req.match.group("pid") != PROPERTY_ID:
            raise ApiError(403, "User does not have sufficient permissions for this property.")
        body = req.json()
        dims = [d["name"] for d in body.get("dimensions", [])]
        mets = [m["name"] for m in body.get("metrics", [])]
        if len(dims) > 9 or len(mets) > 10:
            raise ApiError(400, "Requests are limited to 9 dimensions and 10 metrics.")
        unknown = [n for n in dims if n not in DIMENSIONS] + [n for n in mets if n not in METRICS]
        if unknown:
            raise ApiError(400, f"Field {unknown[0]} is not a valid dimension or metric.")
        ranges = body.get("dateRanges") or []
        if not 1 <= len(ranges) <= 4:
            raise ApiError(400, "A request must have between 1 and 4 date ranges.")
        limit = int(body.get("limit", "10000"))
        offset = int(body.get("offset", "0"))
        if limit <= 0:
            raise ApiError(400, "limit must be positive.")
        limit = min(limit, 250_000)
        rows = []
        for i, span in enumerate(ranges):
            start, end = (
                dt.date.fromisoformat(span["startDate"]),
                dt.date.fromisoformat(span["endDate"]),
            )
            extra = [span.get("name") or f"date_range_{i}"] if len(ranges) > 1 else []
            rows.extend(self._rows(dims, mets, start, min(end, self.world.as_of), extra))
        rows = [
            r
            for r in rows
            if body.get("keepEmptyRows") or any(m["value"] != "0" for m in r["metricValues"])
        ]
        rows.sort(key=lambda r: [d["value"] for d in r["dimensionValues"]])
        out: dict[str, Any] = {
            "dimensionHeaders": [
                {"name": n} for n in dims + (["dateRange"] if len(ranges) > 1 else [])
            ],
            "metricHeaders": [{"name": n, "type": "TYPE_INTEGER"} for n in mets],
            "metadata": {"currencyCode": "EUR", "timeZone": TIMEZONE},
            "kind": "analyticsData#runReport",
        }
        page = rows[offset : offset + limit]
        if page:  # proto3 JSON omits empty fields: no rows, no rowCount
            out["rows"] = page
            out["rowCount"] = len(rows)
        if body.get("returnPropertyQuota"):
            out["propertyQuota"] = {
                k: {"consumed": 3, "remaining": r}
                for k, r in (
                    ("tokensPerDay", 199_000),
                    ("tokensPerHour", 39_500),
                    ("concurrentRequests", 10),
                    ("serverErrorsPerProjectPerHour", 10),
                    ("potentiallyThresholdedRequestsPerHour", 120),
                    ("tokensPerProjectPerHour", 13_900),
                )
            }
        return Response(200, out)

    def _rows(
        self, dims: list[str], mets: list[str], start: dt.date, end: dt.date, extra: list[str]
    ) -> list[dict]:
        web = self.world.web
        groups: dict[tuple[str, ...], list] = {}
        day = start
        while day <= end:
            for s in web.by_day.get(day, ()):
                key = tuple(day.strftime("%Y%m%d") if d == "date" else s.channel for d in dims)
                groups.setdefault(key, []).append(s)
            day += dt.timedelta(days=1)
        rows = []
        for key, sessions in groups.items():
            values = {
                "sessions": len(sessions),
                "totalUsers": len({s.user for s in sessions}),
                "newUsers": len({s.user for s in sessions if s.new_user}),
                "engagedSessions": sum(s.engaged for s in sessions),
                "keyEvents": sum(s.key_event for s in sessions),
            }
            rows.append(
                {
                    "dimensionValues": [{"value": v} for v in (*key, *extra)],
                    "metricValues": [{"value": str(values[m])} for m in mets],
                }
            )
        return rows


# what the sandbox reads (connectors/sandbox/__init__.py)
CREDENTIALS = {"ga4": {"property_id": PROPERTY_ID}}


def emulate(world: World, **_options: Any) -> Ga4Emulator:
    return Ga4Emulator(world)


# where tests/test_faults.py injects its faults: the data stream, its requests (a path regex), the
# records of an answer, a numeric field and the key field of a record ("" when there is none), and
# its own answer for a window without data (docs/PLATFORMS.md#empty-answers)
FAULT_TARGETS = {
    "ga4": dict(  # proto3 JSON omits empty fields: no rows, no rowCount; the headers stay
        stream="traffic_daily",
        path=r":runReport",
        empty=lambda body, req: {k: v for k, v in body.items() if k not in ("rows", "rowCount")},
        renamed=(
            rewriting(
                lambda b: [
                    h.update(name="visits")
                    for h in b.get("metricHeaders", [])  # a metric renamed
                    if h["name"] == "sessions"
                ]
            ),
            "sessions",
        ),
        empty_page=dict(transform=rewriting(lambda b: b.pop("rows", None))),
    )
}  # the first, counting rows it lacks

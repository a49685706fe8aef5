"""Calendly's API v2 emulated (docs/PLATFORMS.md#calendly and #sandbox-fidelity): one scope
selector, ``count`` <= 100, ``page_token`` pagination, ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from connectors.sandbox.faults import renaming
from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import World

CALENDLY_TOKEN = "sandbox-calendly-pat"
CALENDLY_USER = "https://api.calendly.com/users/SANDBOXUSER0001"
CALENDLY_ORG = "https://api.calendly.com/organizations/SANDBOXORG0001"
# the account's event types: a meeting carries its type's name; one name contains another's
EVENT_TYPES = {
    "intro": ("https://api.calendly.com/event_types/INTROCALL0000001", "Intro call"),
    "follow_up": ("https://api.calendly.com/event_types/FOLLOWUP00000001", "Follow-up (15 min)"),
    "follow_up_intro": (
        "https://api.calendly.com/event_types/FOLLOWUPINTRO001",
        "Follow-up na intro call",
    ),
}
RETIRED_EVENT_TYPE = (
    "https://api.calendly.com/event_types/OLDWORKSHOP00001",
    "Skin care workshop",
)  # inactive


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _cursor(n: int) -> str:
    return base64.urlsafe_b64encode(str(n).encode()).decode()


def _uncursor(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise ApiError(400, "invalid page token") from None


# --------------------------------------------------------------------------- Calendly


def _calendly_error(status: int, detail: str) -> Response:
    titles = {
        400: "Invalid Argument",
        401: "Unauthenticated",
        403: "Permission Denied",
        404: "Resource Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }
    if status == 401:
        detail = "The access token is invalid"
    return Response(
        status,
        {"title": titles.get(status, "Error"), "message": detail},
        headers={
            "X-RateLimit-Limit": "500",
            "X-RateLimit-Remaining": "0" if status == 429 else "499",
            "X-RateLimit-Reset": "30",
        },
    )


class CalendlyEmulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.server = ApiServer("calendly", _calendly_error)
        self.server.route("GET", r"/users/me")(self.me)
        self.server.route("GET", r"/scheduled_events")(self.events)
        self.server.route("GET", r"/event_types")(self.event_types)
        self.server.route("GET", r"/scheduled_events/(?P<uuid>[A-Za-z0-9]+)/invitees")(
            self.invitees
        )

    def _auth(self, req: Request) -> None:
        if req.headers.get("authorization") != f"Bearer {CALENDLY_TOKEN}":
            raise ApiError(401, "The access token is invalid")

    def me(self, req: Request) -> Response:
        self._auth(req)
        return Response(
            200,
            {
                "resource": {
                    "uri": CALENDLY_USER,
                    "current_organization": CALENDLY_ORG,
                    "name": "Studio Lumen",
                    "timezone": "Europe/Brussels",
                }
            },
        )

    def _scope(self, req: Request) -> None:
        scopes = [k for k in ("user", "organization", "group") if k in req.query]
        if (
            not scopes
            or (req.query.get("user") and req.query["user"] != CALENDLY_USER)
            or (req.query.get("organization") and req.query["organization"] != CALENDLY_ORG)
        ):
            raise ApiError(400, "The supplied parameters are invalid.")

    def event_types(self, req: Request) -> Response:
        """The account's event types, active and inactive (``active=true|false`` filters)."""
        self._auth(req)
        self._scope(req)
        kinds = [(uri, name, True) for uri, name in EVENT_TYPES.values()] + [
            (*RETIRED_EVENT_TYPE, False)
        ]
        rows: list[dict[str, Any]] = [
            {
                "uri": uri,
                "name": name,
                "active": active,
                "slug": name.lower().replace(" ", "-"),
                "scheduling_url": "https://calendly.com/studiolumen/"
                + name.lower().replace(" ", "-"),
                "duration": 30,
                "kind": "solo",
                "pooling_type": None,
                "type": "StandardEventType",
                "color": "#8247f5",
                "created_at": "2024-01-08T09:00:00.000000Z",
                "updated_at": "2025-03-02T09:00:00.000000Z",
                "internal_note": None,
                "description_plain": None,
                "description_html": None,
                "profile": {"type": "User", "name": "Studio Lumen", "owner": CALENDLY_USER},
                "secret": False,
                "booking_method": "instant",
                "custom_questions": [],
                "deleted_at": None,
                "admin_managed": False,
                "locations": [{"kind": "physical", "location": "Studio Lumen, Gent"}],
                "position": n,
            }
            for n, (uri, name, active) in enumerate(kinds)
            if req.query.get("active") in (None, str(active).lower())
        ]
        rows.sort(key=lambda e: e["name"], reverse=req.query.get("sort") == "name:desc")
        return _page(req, rows)

    def events(self, req: Request) -> Response:
        self._auth(req)
        self._scope(req)
        count = int(req.query.get("count", 20))
        if not 1 <= count <= 100:
            raise ApiError(400, "The supplied parameters are invalid.")
        lo = req.query.get("min_start_time")
        hi = req.query.get("max_start_time")
        s = self.world.sales
        rows = []
        for b in s.bookings:
            if not s.seen(b.created_at):
                continue
            start = _iso(b.start_time)
            if (lo and start < lo) or (hi and start >= hi):
                continue
            canceled_at = b.canceled_at if s.seen(b.canceled_at) else None
            status = "canceled" if canceled_at else "active"
            if req.query.get("status") and req.query["status"] != status:
                continue
            uri, name = EVENT_TYPES[b.event_type]
            event = {
                "uri": f"https://api.calendly.com/scheduled_events/{b.event_id}",
                "name": name,
                "status": status,
                "start_time": start,
                "end_time": _iso(b.start_time + dt.timedelta(minutes=30)),
                "event_type": uri,
                "location": {"type": "physical", "location": "Studio Lumen, Gent"},
                "invitees_counter": {"total": 1, "active": 0 if canceled_at else 1, "limit": 1},
                "created_at": _iso(b.created_at),
                "updated_at": _iso(canceled_at or b.created_at),
                "event_memberships": [
                    {"user": CALENDLY_USER, "user_email": "hello@studiolumen.be"}
                ],
                "event_guests": [],
            }
            if canceled_at:
                event["cancellation"] = {
                    "canceled_by": "Invitee",
                    "reason": "",
                    "canceler_type": "invitee",
                    "created_at": _iso(canceled_at),
                }
            rows.append(event)
        rows.sort(
            key=lambda e: (e["start_time"], e["uri"]),
            reverse=req.query.get("sort") == "start_time:desc",
        )
        return _page(req, rows)

    def invitees(self, req: Request) -> Response:
        """Who booked: the e-mail is only here, not on the event (docs/PLATFORMS.md#calendly)."""
        self._auth(req)
        s = self.world.sales
        assert req.match is not None  # the route that chose this handler matched
        event_id = req.match.group("uuid")
        booking = next(
            (b for b in s.bookings if b.event_id == event_id and s.seen(b.created_at)), None
        )
        if booking is None:
            raise ApiError(404, "Resource Not Found")
        canceled_at = booking.canceled_at if s.seen(booking.canceled_at) else None
        event_uri = f"https://api.calendly.com/scheduled_events/{event_id}"
        return _page(
            req,
            [
                {
                    "uri": f"{event_uri}/invitees/INV{event_id[2:]}",
                    "email": booking.invitee_email,
                    "name": "Sandbox Invitee",
                    "status": "canceled" if canceled_at else "active",
                    "created_at": _iso(booking.created_at),
                    "updated_at": _iso(canceled_at or booking.created_at),
                    "canceled": canceled_at is not None,
                    "rescheduled": False,
                    "event": event_uri,
                    "timezone": "Europe/Brussels",
                }
            ],
        )


def _page(req: Request, rows: list[dict[str, Any]]) -> Response:
    """Calendly's page-token paging over ``rows``."""
    count = int(req.query.get("count", 20))
    if not 1 <= count <= 100:
        raise ApiError(400, "The supplied parameters are invalid.")
    offset = _uncursor(req.query["page_token"]) if req.query.get("page_token") else 0
    page = rows[offset : offset + count]
    token = _cursor(offset + count) if offset + count < len(rows) else None
    return Response(
        200,
        {
            "collection": page,
            "pagination": {
                "count": len(page),
                "next_page_token": token,
                "previous_page_token": None,
                "next_page": f"{req.path}?page_token={token}" if token else None,
                "previous_page": None,
            },
        },
        headers={
            "X-RateLimit-Limit": "500",
            "X-RateLimit-Remaining": "498",
            "X-RateLimit-Reset": "42",
        },
    )


# what the sandbox reads (connectors/sandbox/__init__.py)
CREDENTIALS = {"calendly": {"token": CALENDLY_TOKEN}}


def emulate(world: World, **_options: Any) -> CalendlyEmulator:
    return CalendlyEmulator(world)


# where tests/test_faults.py injects its faults: the data stream, its requests (a path regex), the
# records of an answer, a numeric field and the key field of a record ("" when there is none), and
# its own answer for a window without data (docs/PLATFORMS.md#empty-answers)
FAULT_TARGETS = {
    "calendly": dict(
        stream="scheduled_events",
        path=r"/scheduled_events$",
        records=lambda b: b["collection"],
        key_field="uri",
        empty=lambda body, req: {
            "collection": [],
            "pagination": {"count": 0, "next_page": None, "next_page_token": None},
        },
        renamed=(renaming(lambda b: b["collection"], "status", "event_status"), "status"),
        onwards=lambda body, req, url: body.setdefault("pagination", {}).update(
            next_page_token="tok-1"
        ),
    )
}

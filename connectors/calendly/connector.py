"""Calendly API v2 scheduled events with ``requests`` (docs/PLATFORMS.md#calendly).

Every run re-fetches all future events and the lookback (30 days): cancellations and
reschedules arrive after the booking. Both active and canceled events are kept (status);
which event types are intro calls is the KPI layer's business (the whole name, never a part);
``kpi check --online`` reads the account's event types to refuse a name it does not have.
Respects X-RateLimit-*.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import requests

from connectors.calendly import PLATFORM
from connectors.errors import ConnectorError, FatalError, RateLimitedError
from connectors.http import HttpClient, HttpConnector, RetryPolicy, register_secret
from connectors.names import NameCheck, norm, unknown_names
from connectors.pagination import PageTokenPaginator, dig, records_at
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window, person_column

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "scheduled_events"
FUTURE_DAYS = 365


def _calendly_classifier(
    response: requests.Response, stream: str | None, path: str
) -> ConnectorError | None:
    if response.status_code != 429:
        return None
    reset = response.headers.get("X-RateLimit-Reset")
    return RateLimitedError(
        "rate limit reached",
        platform=PLATFORM,
        stream=stream,
        status=429,
        path=path,
        retry_after=float(reset) if reset and reset.isdigit() else None,
    )


class CalendlyClient(HttpConnector):
    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        user: str | None = None,
        organization: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
    ):
        register_secret(token)
        self.user, self.organization = user, organization
        self.http = HttpClient(
            PLATFORM,
            (base_url or "https://api.calendly.com").rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=(5.0, timeout),
            policy=policy,
            classifier=_calendly_classifier,
            credential_setting="sources.calendly.token",
        )

    def scope(self, stream: str) -> dict[str, str]:
        if self.organization:
            return {"organization": self.organization}
        if not self.user:
            user = dig(
                self.http.request_json("GET", "/users/me", stream=stream), ["resource", "uri"]
            )
            if not isinstance(user, str) or not user:
                raise FatalError(
                    "malformed answer: /users/me without resource.uri; nothing was loaded",
                    platform=PLATFORM,
                    stream=stream,
                    path="/users/me",
                    hint="the platform answered 200 without its data; the stored rows are kept; "
                    "run the sync again, "
                    "or set sources.calendly.user (or organization) to skip this lookup",
                )
            self.user = user
        return {"user": self.user}

    def collection(
        self, path: str, base: dict[str, str], stream: str
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a Calendly collection (page-token paging, 100 a page)."""
        paginator = PageTokenPaginator("pagination.next_page_token", "page_token", page_size=100)
        paginator.for_stream(PLATFORM, stream)
        params = {**base, **paginator.first_params()}
        while True:
            body = self.http.request_json("GET", path, stream=stream, params=params)
            items = records_at(body, "collection", platform=PLATFORM, stream=stream, where=path)
            yield items
            paginator.update(body, items)
            if not paginator.has_next:
                return
            params = {**base, **paginator.next_params()}

    def events(
        self, start: dt.datetime, end: dt.datetime, stream: str
    ) -> Iterator[list[dict[str, Any]]]:
        base = {
            **self.scope(stream),
            "min_start_time": _z(start),
            "max_start_time": _z(end),
            "sort": "start_time:asc",
        }
        yield from self.collection("/scheduled_events", base, stream)

    def event_types(self, stream: str = "event_types") -> list[dict[str, Any]]:
        """The account's event types, active and inactive: what intro_call_event_types may name."""
        return [
            t
            for items in self.collection("/event_types", self.scope(stream), stream)
            for t in items
        ]


def _z(ts: dt.datetime) -> str:
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def connect(settings: dict[str, Any]) -> CalendlyClient:
    return CalendlyClient(
        settings["token"],
        settings.get("base_url"),
        settings.get("user"),
        settings.get("organization"),
        settings.get("timeout", 60.0),
    )


def fetch_events(client: CalendlyClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
    for items in client.events(
        ctx.local_start(window.start),
        ctx.local_start(window.end + dt.timedelta(days=1)),
        "scheduled_events",
    ):
        if items:
            yield Page(items, account=client.user or client.organization or "")


def fetch_invitees(client: CalendlyClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
    """Who booked each meeting of the window: the e-mail is only on the invitee
    (docs/PLATFORMS.md#calendly)."""
    for events in client.events(
        ctx.local_start(window.start),
        ctx.local_start(window.end + dt.timedelta(days=1)),
        "invitees",
    ):
        for event in events:
            path = "/scheduled_events/" + event["uri"].rstrip("/").rsplit("/", 1)[-1] + "/invitees"
            for items in client.collection(path, {}, "invitees"):
                if items:
                    yield Page(
                        [{**i, "_event_start_time": event["start_time"]} for i in items],
                        account=client.user or client.organization or "",
                    )


STREAMS = {
    "invitees": StreamSpec(
        PLATFORM,
        "invitees",
        "Who booked each meeting, on the meeting's local start date: a salted key of the "
        "e-mail (never the address), to follow intro calls to purchases.",
        key=("invitee_uri",),
        date_column="start_date",
        lookback_days=30,
        future_days=FUTURE_DAYS,
        pii=("email",),
        columns=(
            Column("invitee_uri", "VARCHAR", "uri"),
            Column("event_uri", "VARCHAR", "event"),
            Column("start_date", "DATE", derive=lambda r, c: c.local_date(r["_event_start_time"])),
            Column("status", "VARCHAR", required=True),
            person_column("email"),
        ),
        fetch=fetch_invitees,
    ),
    "scheduled_events": StreamSpec(
        PLATFORM,
        "scheduled_events",
        "Meetings by their local start date, active and canceled; future ones too.",
        key=("event_uri",),
        date_column="start_date",
        lookback_days=30,
        future_days=FUTURE_DAYS,
        events=True,
        columns=(
            Column("event_uri", "VARCHAR", "uri"),
            Column("start_date", "DATE", derive=lambda r, c: c.local_date(r["start_time"])),
            Column("start_time", "TIMESTAMPTZ"),
            Column("name", "VARCHAR"),
            Column(
                "status", "VARCHAR", required=True
            ),  # active or canceled: intro calls count the active
            Column("event_type", "VARCHAR"),
            Column("created_at", "TIMESTAMPTZ"),
            Column("canceled_at", "TIMESTAMPTZ", "cancellation.created_at"),
        ),
        fetch=fetch_events,
    ),
}


def check_names(client: CalendlyClient, settings: Any) -> NameCheck:
    """`kpi check --online`: intro_call_event_types against the account's event types (active and
    inactive)."""
    types = client.event_types()
    known = {
        norm(t["name"]): t["name"] + ("" if t.get("active", True) else " (inactive)")
        for t in sorted(types, key=lambda t: t["name"].lower())
    }
    errors = unknown_names(
        "sources.calendly.intro_call_event_types",
        settings.intro_call_event_types,
        known,
        "an event type of this Calendly account",
    )
    return NameCheck(errors, found=f"{len(types)} event types")

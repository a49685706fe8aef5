"""HubSpot CRM v3 search with ``requests`` (docs/PLATFORMS.md#hubspot): contacts (leads) and deals.

Both change long after they were created (a contact becomes a lead months later, a deal
closes), so they are fetched by last modification (``lastmodifieddate``, deals
``hs_lastmodifieddate``) from the sync window's start, a few minutes early for the search
index's lag, through the platform's now: every record changed since comes in its current
state and replaces its earlier self (``kind="changes"``).

The search API stops at 10,000 results per query: a window whose ``total`` passes that is
cut in halves by time until every slice fits, so nothing is lost. 429 ``RATE_LIMIT`` waits
by its policy (one second for SECONDLY, ten for TEN_SECONDLY_ROLLING).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import requests

from connectors.errors import ConnectorError, RateLimitedError
from connectors.http import HttpClient, HttpConnector, RetryPolicy, register_secret
from connectors.hubspot import PLATFORM
from connectors.names import NameCheck, norm, unknown_names
from connectors.pagination import PageTokenPaginator, records_at
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window, person_column

PROBE = (
    "contacts"  # `kpi check --online` fetches its first page for one day: proves the credentials
)
SEARCH_CAP = 10_000
PAGE = 200
INDEX_LAG = dt.timedelta(minutes=10)  # the search index can lag writes: start that much earlier


def _hubspot_classifier(
    response: requests.Response, stream: str | None, path: str
) -> ConnectorError | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if body.get("errorType") == "RATE_LIMIT":
        wait = 10.0 if body.get("policyName") == "TEN_SECONDLY_ROLLING" else 1.0
        return RateLimitedError(
            body.get("message", "rate limited"),
            platform=PLATFORM,
            stream=stream,
            status=response.status_code,
            path=path,
            request_id=body.get("correlationId"),
            retry_after=wait,
        )
    return None


class HubSpotClient(HttpConnector):
    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
        search_cap: int = SEARCH_CAP,
    ) -> None:
        register_secret(token)
        self.search_cap = search_cap
        self.http = HttpClient(
            PLATFORM,
            (base_url or "https://api.hubapi.com").rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=(5.0, timeout),
            policy=policy,
            classifier=_hubspot_classifier,
            credential_setting="sources.hubspot.token",
        )

    def search(
        self,
        kind: str,
        start: dt.datetime,
        end: dt.datetime,
        properties: list[str],
        stream: str,
        by: str = "createdate",
    ) -> Iterator[list[dict[str, Any]]]:
        """Records whose ``by`` (a date property) is in [start, end), sliced by time whenever a
        query would pass the cap."""
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": by,
                            "operator": "GTE",
                            "value": str(int(start.timestamp() * 1000)),
                        },
                        {
                            "propertyName": by,
                            "operator": "LT",
                            "value": str(int(end.timestamp() * 1000)),
                        },
                    ]
                }
            ],
            "sorts": [{"propertyName": by, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": PAGE,
            "after": "0",
        }
        path = f"/crm/v3/objects/{kind}/search"
        first = self.http.request_json("POST", path, stream=stream, json=body)
        if first.get("total", 0) > self.search_cap and end - start > dt.timedelta(seconds=2):
            middle = start + (end - start) / 2
            yield from self.search(kind, start, middle, properties, stream, by)
            yield from self.search(kind, middle, end, properties, stream, by)
            return
        paginator = PageTokenPaginator("paging.next.after", "after").for_stream(PLATFORM, stream)
        page, seen = first, 0
        while True:
            items = records_at(page, "results", platform=PLATFORM, stream=stream, where=path)
            seen += len(items)
            yield items
            paginator.update(page, items)
            if not paginator.has_next:
                if seen < int(first.get("total") or 0):
                    raise paginator._cut_short(f"{seen} of {first['total']} results")
                return
            page = self.http.request_json(
                "POST", path, stream=stream, json={**body, "after": paginator.token}
            )


def connect(settings: dict[str, Any]) -> HubSpotClient:
    return HubSpotClient(settings["token"], settings.get("base_url"), settings.get("timeout", 60.0))


def _fetch(kind: str, modified: str, properties: list[str]):
    """Every record modified since the window's start (a little earlier: the index lags), up to
    the platform's now, not the window's end: a record changed again today comes in its current
    state now rather than not at all (its earlier change's day would be left incomplete)."""

    def fetch(client: HubSpotClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
        start = ctx.local_start(window.start) - INDEX_LAG
        last = max(
            window.end, ctx.today or window.end
        )  # the platform's today is the latest a change can be
        end = ctx.local_start(last + dt.timedelta(days=1)) + INDEX_LAG
        seen: set[str] = set()
        # a record modified while the pages are read moves to the end and comes twice: the first
        # is kept (its new change is dated today, after the window, and the next sync takes it)
        for items in client.search(kind, start, end, properties, kind, by=modified):
            fresh = [item for item in items if item.get("id") is None or item["id"] not in seen]
            # a record without its id is refused by the loader
            seen.update(item["id"] for item in fresh if item.get("id") is not None)
            if fresh:
                yield Page(fresh, account=kind)

    return fetch


def _modified(prop: str) -> Column:
    return Column("modified_date", "DATE", derive=lambda r, c: c.local_date(r["properties"][prop]))


_CREATED = Column(
    "created_date", "DATE", derive=lambda r, c: c.local_date(r["properties"]["createdate"])
)
# HubSpot keeps the date a contact entered each lifecycle stage after it moves on
# (docs/PLATFORMS.md#hubspot)
STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)


def _stage_dates(record: dict[str, Any], ctx: StreamContext) -> str:
    """{stage: business-local date entered} as JSON; epoch milliseconds (older APIs) or ISO."""
    out = {}
    for stage in STAGES:
        value = (record.get("properties") or {}).get(f"hs_lifecyclestage_{stage}_date")
        if value:
            ts = (
                dt.datetime.fromtimestamp(int(value) / 1000, dt.timezone.utc)
                if str(value).isdigit()
                else value
            )
            out[stage] = ctx.local_date(ts).isoformat()
    return json.dumps(out, sort_keys=True)


STREAMS = {
    spec.name: spec
    for spec in (
        StreamSpec(
            PLATFORM,
            "contacts",
            "Contacts by last modification, upserted by id: current lifecycle stage, "
            "the date each stage was entered (a contact may become a lead months after it was "
            "created), and a salted key of the e-mail (never the address).",
            key=("contact_id",),
            date_column="modified_date",
            kind="changes",
            lookback_days=30,
            events=True,
            # a contact created before history_start may become a lead after it
            first_load_all=True,
            pii=("properties.email",),
            columns=(
                Column("contact_id", "VARCHAR", "id"),
                _CREATED,
                _modified("lastmodifieddate"),
                Column("lifecycle_stage", "VARCHAR", "properties.lifecyclestage"),
                Column("created_at", "TIMESTAMPTZ", "properties.createdate"),
                Column("stage_dates", "VARCHAR", derive=_stage_dates),
                person_column("properties.email"),
            ),
            fetch=_fetch(
                "contacts",
                "lastmodifieddate",
                [
                    "email",
                    "createdate",
                    "lifecyclestage",
                    "lastmodifieddate",
                    *(f"hs_lifecyclestage_{s}_date" for s in STAGES),
                ],
            ),
        ),
        StreamSpec(
            PLATFORM,
            "deals",
            "Deals by last modification, upserted by id: stage, amount, close date, won or not.",
            key=("deal_id",),
            date_column="modified_date",
            kind="changes",
            lookback_days=60,
            first_load_all=True,
            columns=(
                Column("deal_id", "VARCHAR", "id"),
                _CREATED,
                _modified("hs_lastmodifieddate"),
                Column("deal_name", "VARCHAR", "properties.dealname"),
                Column("deal_stage", "VARCHAR", "properties.dealstage"),
                Column("amount", "DECIMAL(18,2)", "properties.amount"),
                Column(
                    "close_date",
                    "DATE",
                    derive=lambda r, c: (
                        c.local_date(r["properties"]["closedate"])
                        if r["properties"].get("closedate")
                        else None
                    ),
                ),
                Column(
                    "is_won",
                    "BOOLEAN",
                    derive=lambda r, c: r["properties"].get("hs_is_closed_won") == "true",
                ),
            ),
            fetch=_fetch(
                "deals",
                "hs_lastmodifieddate",
                [
                    "dealname",
                    "amount",
                    "dealstage",
                    "createdate",
                    "closedate",
                    "hs_is_closed_won",
                    "hs_lastmodifieddate",
                ],
            ),
        ),
    )
}


LIFECYCLE_PROPERTY = "/crm/v3/properties/contacts/lifecyclestage"


def lifecycle_stages(client: HubSpotClient) -> list[dict[str, Any]]:
    """The options of HubSpot's lifecyclestage property: standard stages and the portal's own."""
    body = client.http.request_json("GET", LIFECYCLE_PROPERTY, stream="lifecycle_stages")
    return list(body.get("options") or [])  # hidden ones too: hidden from forms, still a stage


def check_names(client: HubSpotClient, settings: Any) -> NameCheck:
    """`kpi check --online`: lead_stages against the account's lifecycle stages (internal values;
    custom ones too)."""
    options = lifecycle_stages(client)
    known = {
        norm(o["value"]): o["value"]
        if norm(o["label"]).replace(" ", "") == norm(o["value"])
        else f"{o['value']} ({o['label']})"
        for o in options
    }
    labels = {norm(o["label"]): o["value"] for o in options}
    configured = settings.lead_stages
    out = NameCheck(found=f"{len(options)} lifecycle stages")
    out.errors += unknown_names(
        "sources.hubspot.lead_stages",
        configured,
        known,
        "a lifecycle stage of this HubSpot account",
        lambda name: (
            f" (write the stage's internal value {labels[norm(name)]!r}, not its label)"
            if norm(name) in labels
            else ""
        ),
    )
    for i, name in enumerate(configured):
        if norm(name) in known and norm(name) not in STAGES:
            # the contacts stream reads the entry date of HubSpot's standard stages only
            out.warnings.append(
                f"sources.hubspot.lead_stages[{i}]: {name!r} is a custom stage; the pipeline "
                f"reads when contacts entered the standard stages only, so it adds no leads"
            )
    return out

"""HubSpot's CRM v3 search emulated (docs/PLATFORMS.md#hubspot and #sandbox-fidelity):
filterGroups, string property values, ``paging.next.after``, and the 10,000-result cap per query
(``search_cap``, lowered by tests).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from connectors.sandbox.faults import renaming, rewriting
from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import World

HUBSPOT_TOKEN = "pat-sandbox-hubspot"
# GET /crm/v3/properties/contacts/lifecyclestage: HubSpot's standard stages and one custom stage
# (a custom stage's internal value is a number, its label what the portal shows)
LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
    ("1093847562", "Nurture"),
]


# --------------------------------------------------------------------------- HubSpot


def _hubspot_error(status: int, detail: str) -> Response:
    body: dict[str, Any] = {
        "status": "error",
        "message": detail,
        "correlationId": str(uuid.uuid4()),
        "category": {401: "INVALID_AUTHENTICATION", 400: "VALIDATION_ERROR"}.get(status, "ERROR"),
    }
    if status == 429:
        body.update(
            message="You have reached your secondly limit.",
            errorType="RATE_LIMIT",
            policyName="SECONDLY",
        )
    if status == 401:
        body["message"] = "Authentication credentials not found."
    return Response(status, body)


class HubSpotEmulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.search_cap = 10_000
        self.server = ApiServer("hubspot", _hubspot_error)
        self.server.route("POST", r"/crm/v3/objects/(?P<kind>contacts|deals)/search")(self.search)
        self.server.route("GET", r"/crm/v3/properties/contacts/lifecyclestage")(
            self.lifecycle_stages
        )

    def lifecycle_stages(self, req: Request) -> Response:
        """The lifecyclestage property: its ``options`` are the portal's stages, custom ones too."""
        if req.headers.get("authorization") != f"Bearer {HUBSPOT_TOKEN}":
            raise ApiError(401, "Authentication credentials not found.")
        options = [
            {"label": label, "value": value, "displayOrder": n, "hidden": False, "description": ""}
            for n, (value, label) in enumerate(LIFECYCLE_STAGES)
        ]
        return Response(
            200,
            {
                "name": "lifecyclestage",
                "label": "Lifecycle Stage",
                "type": "enumeration",
                "fieldType": "radio",
                "groupName": "contactinformation",
                "description": "",
                "options": options,
                "displayOrder": -1,
                "calculated": False,
                "externalOptions": False,
                "hasUniqueValue": False,
                "hidden": False,
                "formField": True,
                "createdAt": "2019-08-06T02:41:08.029Z",
                "updatedAt": "2025-01-14T10:00:00.000Z",
                "modificationMetadata": {
                    "archivable": False,
                    "readOnlyDefinition": True,
                    "readOnlyValue": False,
                },
            },
        )

    def search(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {HUBSPOT_TOKEN}":
            raise ApiError(401, "Authentication credentials not found.")
        body = req.json()
        limit = int(body.get("limit", 10))
        after = int(body.get("after", 0) or 0)
        if not 1 <= limit <= 200:
            raise ApiError(400, "limit must be between 1 and 200")
        if after >= self.search_cap:
            raise ApiError(
                400,
                f"Search results are limited to {self.search_cap} per query; narrow the filters.",
            )
        assert req.match is not None  # the route that chose this handler matched
        records = self._contacts() if req.match.group("kind") == "contacts" else self._deals()
        for group in body.get("filterGroups") or []:
            for f in group.get("filters") or []:
                records = [r for r in records if _match(r, f)]
        # HubSpot sorts by the one property asked (createdate when none), ties by id
        sorts = body.get("sorts") or [{"propertyName": "createdate"}]
        by = sorts[0].get("propertyName", "createdate")
        records.sort(
            key=lambda r: (r["properties"].get(by) or "", r["id"]),
            reverse=sorts[0].get("direction") == "DESCENDING",
        )
        page = records[after : min(after + limit, self.search_cap)]
        # like HubSpot: only the asked-for properties, plus the few it always returns
        wanted = set(body.get("properties") or []) | {
            "createdate",
            "lastmodifieddate",
            "hs_lastmodifieddate",
            "hs_object_id",
        }
        page = [
            {**r, "properties": {k: v for k, v in r["properties"].items() if k in wanted}}
            for r in page
        ]
        out: dict[str, Any] = {"total": len(records), "results": page}
        if after + limit < len(records):
            out["paging"] = {
                "next": {"after": str(after + limit), "link": "?after=" + str(after + limit)}
            }
        return Response(200, out)

    def _contacts(self) -> list[dict[str, Any]]:
        """Contacts as they are at the platform's now: their current stage, the date they entered
        each stage (docs/PLATFORMS.md#hubspot), and ``lastmodifieddate``, which moves with every
        change (a subscriber who becomes a lead months later, a lead who becomes a customer)."""
        s = self.world.sales
        out = []
        for c in s.contacts:
            if not s.seen(c.created_at):
                continue
            entered = s.stage_dates(c)
            current = max(entered, key=entered.__getitem__)
            changed = max(entered.values())
            props = {
                "email": c.email,
                "createdate": _ms_iso(c.created_at),
                "lifecyclestage": current,
                "lastmodifieddate": _ms_iso(changed),
                "hs_object_id": c.contact_id,
                **{f"hs_lifecyclestage_{stage}_date": _ms_iso(at) for stage, at in entered.items()},
            }
            out.append(
                {
                    "id": c.contact_id,
                    "properties": props,
                    "createdAt": _ms_iso(c.created_at),
                    "updatedAt": _ms_iso(changed),
                    "archived": False,
                }
            )
        return out

    def _deals(self) -> list[dict[str, Any]]:
        s = self.world.sales
        return [
            {
                "id": d.deal_id,
                "properties": {
                    "dealname": f"Treatment plan {d.deal_id[-4:]}",
                    "amount": str(d.amount / 100),
                    "dealstage": "closedwon"
                    if d.won and s.seen(d.close_at)
                    else "appointmentscheduled",
                    "createdate": _ms_iso(d.created_at),
                    "closedate": _ms_iso(d.close_at) if s.seen(d.close_at) else None,
                    "hs_is_closed_won": "true" if d.won and s.seen(d.close_at) else "false",
                    "hs_lastmodifieddate": _ms_iso(self._deal_modified(d)),
                },
                "createdAt": _ms_iso(d.created_at),
                "updatedAt": _ms_iso(self._deal_modified(d)),
                "archived": False,
            }
            for d in s.deals
            if s.seen(d.created_at)
        ]

    def _deal_modified(self, d) -> dt.datetime:
        """A deal changes when it closes: its last modification moves then."""
        return d.close_at if self.world.sales.seen(d.close_at) else d.created_at


def _ms_iso(value: dt.datetime | None) -> str | None:
    return (
        None
        if value is None
        else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}Z"
    )


def _match(record: dict[str, Any], f: dict[str, Any]) -> bool:
    value = record["properties"].get(f.get("propertyName"))
    if value is None:
        return False
    target = f.get("value")
    if target is not None and str(target).isdigit():  # epoch milliseconds
        target = _ms_iso(dt.datetime.fromtimestamp(int(target) / 1000, dt.timezone.utc))
    op = f.get("operator")
    if op == "GTE":
        return value >= target
    if op == "GT":
        return value > target
    if op == "LTE":
        return value <= target
    if op == "LT":
        return value < target
    if op == "EQ":
        return value == target
    if op == "IN":
        return value in f.get("values", [])
    raise ApiError(400, f"Unsupported operator {op}")


# what the sandbox reads (connectors/sandbox/__init__.py)
CREDENTIALS = {"hubspot": {"token": HUBSPOT_TOKEN}}


def emulate(world: World, **_options: Any) -> HubSpotEmulator:
    return HubSpotEmulator(world)


# where tests/test_faults.py injects its faults: the data stream, its requests (a path regex), the
# records of an answer, a numeric field and the key field of a record ("" when there is none), and
# its own answer for a window without data (docs/PLATFORMS.md#empty-answers)
FAULT_TARGETS = {
    "hubspot": dict(
        stream="contacts",
        path=r"/objects/contacts/search",
        records=lambda b: b["results"],
        key_field="id",
        empty=lambda body, req: {"total": 0, "results": []},
        renamed=(
            renaming(lambda b: [r["properties"] for r in b["results"]], "createdate", "created_at"),
            "createdate",
        ),
        # the first page empty while the total counts more; a page pointing onwards again
        empty_page=dict(
            transform=rewriting(lambda b: (b.update(results=[]), b.pop("paging", None)))
        ),
        onwards=lambda body, req, url: body.update(paging={"next": {"after": "200"}}),
    )
}

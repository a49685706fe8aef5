"""Stripe, Calendly and HubSpot emulation.

See docs/PLATFORMS.md#stripe, #calendly, #hubspot and #sandbox-fidelity.

Stripe: list envelopes newest first, ``limit`` 1-100, ``starting_after``, ``created[gte|lt]``,
amounts in cents, ``Request-Id``, error objects with type and code. Calendly: one scope
selector, ``count`` <= 100, ``page_token`` pagination, ``X-RateLimit-*`` headers. HubSpot CRM
v3 search: filterGroups, string property values, ``paging.next.after``, and the 10,000-result
cap per query (``search_cap``, lowered by tests).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import World

STRIPE_KEY = "sk_test_sandbox0000"
CALENDLY_TOKEN = "sandbox-calendly-pat"
HUBSPOT_TOKEN = "pat-sandbox-hubspot"
DISPUTE_FEE = 1500  # euro cents Stripe withholds when a dispute opens (and gives back when it is won)
CALENDLY_USER = "https://api.calendly.com/users/SANDBOXUSER0001"
CALENDLY_ORG = "https://api.calendly.com/organizations/SANDBOXORG0001"
# the account's event types: a meeting carries its type's name; one name contains another's
EVENT_TYPES = {"intro": ("https://api.calendly.com/event_types/INTROCALL0000001", "Intro call"),
               "follow_up": ("https://api.calendly.com/event_types/FOLLOWUP00000001", "Follow-up (15 min)"),
               "follow_up_intro": ("https://api.calendly.com/event_types/FOLLOWUPINTRO001", "Follow-up na intro call")}
RETIRED_EVENT_TYPE = ("https://api.calendly.com/event_types/OLDWORKSHOP00001", "Skin care workshop")  # inactive
# GET /crm/v3/properties/contacts/lifecyclestage: HubSpot's standard stages and one custom stage
# (a custom stage's internal value is a number, its label what the portal shows)
LIFECYCLE_STAGES = [("subscriber", "Subscriber"), ("lead", "Lead"),
                    ("marketingqualifiedlead", "Marketing Qualified Lead"), ("salesqualifiedlead", "Sales Qualified Lead"),
                    ("opportunity", "Opportunity"), ("customer", "Customer"), ("evangelist", "Evangelist"), ("other", "Other"),
                    ("1093847562", "Nurture")]


def _ts(value: dt.datetime) -> int:
    return int(value.timestamp())


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _cursor(n: int) -> str:
    return base64.urlsafe_b64encode(str(n).encode()).decode()


def _uncursor(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise ApiError(400, "invalid page token") from None


# --------------------------------------------------------------------------- Stripe

def _stripe_error(status: int, detail: str) -> Response:
    kind, code = {400: ("invalid_request_error", "parameter_invalid"), 401: ("invalid_request_error", None),
                  404: ("invalid_request_error", "resource_missing"), 429: ("invalid_request_error", "rate_limit")
                  }.get(status, ("api_error", None))
    if status == 401:
        detail = "Invalid API Key provided: sk_test_****"
    if status == 429:
        detail = "Too many requests hit the API too quickly."
    request_id = "req_" + uuid.uuid4().hex[:14]
    body = {"error": {"type": kind, "message": detail, "doc_url": "https://stripe.com/docs/error-codes",
                      "request_log_url": f"https://dashboard.stripe.com/test/logs/{request_id}"}}
    if code:
        body["error"]["code"] = code
    return Response(status, body, headers={"Request-Id": request_id,
                                           "Stripe-Should-Retry": "true" if status in (429, 500) else "false"})


class StripeEmulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.server = ApiServer("stripe", _stripe_error)
        self.server.route("GET", r"/v1/charges")(lambda r: self._list(r, "charges", self._charges()))
        self.server.route("GET", r"/v1/invoices")(lambda r: self._list(r, "invoices", self._invoices()))
        self.server.route("GET", r"/v1/invoices/(?P<invoice>in_[0-9a-f]+)/lines")(self._invoice_lines)
        self.server.route("GET", r"/v1/customers")(lambda r: self._list(r, "customers", self._customers()))
        self.server.route("GET", r"/v1/balance_transactions")(
            lambda r: self._list(r, "balance_transactions", self._balance_transactions(r)))

    def _auth(self, req: Request) -> None:
        if req.headers.get("authorization") != f"Bearer {STRIPE_KEY}":
            raise ApiError(401, "Invalid API Key provided")

    def _list(self, req: Request, name: str, objects: list[dict[str, Any]], *, by_created: bool = True) -> Response:
        self._auth(req)
        try:
            limit = int(req.query.get("limit", 10))
            gte = int(req.query["created[gte]"]) if "created[gte]" in req.query else None
            lt = int(req.query["created[lt]"]) if "created[lt]" in req.query else None
        except ValueError:
            raise ApiError(400, "Invalid integer") from None
        if not 1 <= limit <= 100:
            raise ApiError(400, "Invalid limit: must be between 1 and 100")
        chosen = [o for o in objects if (gte is None or o["created"] >= gte) and (lt is None or o["created"] < lt)]
        if by_created:
            chosen.sort(key=lambda o: (o["created"], o["id"]), reverse=True)  # newest first
        after = req.query.get("starting_after")
        if after:
            ids = [o["id"] for o in chosen]
            if after not in ids:
                raise ApiError(404, f"No such object: '{after}'")
            chosen = chosen[ids.index(after) + 1:]
        return Response(200, {"object": "list", "url": f"/v1/{name}", "has_more": len(chosen) > limit,
                              "data": chosen[:limit]},
                        headers={"Request-Id": "req_" + uuid.uuid4().hex[:14], "Stripe-Version": "2024-06-20"})

    def _charges(self) -> list[dict[str, Any]]:
        s = self.world.sales
        out = []
        for p in s.payments:
            if not s.seen(p.created_at):
                continue
            returned = s.seen(p.returned_at)  # the bank returned the debit: the charge failed after all
            status = "failed" if returned else p.status
            refunded = s.refunded(p) if p.status == "succeeded" else 0
            charge = {"id": p.charge_id, "object": "charge", "amount": p.amount,
                      "amount_captured": p.amount if p.status == "succeeded" else 0, "amount_refunded": refunded,
                      "currency": p.currency, "status": status, "paid": status == "succeeded",
                      "refunded": refunded == p.amount, "captured": p.status == "succeeded",
                      "created": _ts(p.created_at), "customer": p.customer_id, "invoice": p.invoice_id,
                      "billing_details": {"email": p.email, "name": None, "address": None, "phone": None},
                      "balance_transaction": "txn_" + p.charge_id[3:] if p.status == "succeeded" else None,
                      "payment_method_details": _method_details(p),
                      "payment_intent": "pi_" + p.charge_id[3:], "livemode": False,
                      "disputed": s.seen(p.disputed_at), "failure_balance_transaction": None}
            if returned:
                charge.update({"failure_code": "insufficient_funds", "failure_balance_transaction": _failure_id(p),
                               "failure_message": "The customer's account has insufficient funds to cover this "
                                                  "payment."})
            out.append(charge)
        return out

    def _lines(self, p) -> list[dict[str, Any]]:
        return [{"id": f"il_{p.invoice_id[3:]}{i:02d}", "object": "line_item", "amount": ln.unit_amount * ln.quantity,
                 "currency": "eur", "description": ln.name, "quantity": ln.quantity,
                 "price": {"id": f"price_{ln.product_id[5:]}", "object": "price", "product": ln.product_id,
                           "unit_amount": ln.unit_amount, "currency": "eur", "nickname": ln.name}}
                for i, ln in enumerate(p.lines)]

    def _invoices(self) -> list[dict[str, Any]]:
        s = self.world.sales
        out = []
        for p in s.payments:
            if not s.seen(p.created_at) or p.invoice_id is None:
                continue
            lines = self._lines(p)
            paid = p.status == "succeeded" and not s.seen(p.returned_at)  # a returned debit reopens it
            out.append({"id": p.invoice_id, "object": "invoice", "customer": p.customer_id, "currency": "eur",
                        "status": "paid" if paid else "open", "total": p.amount, "amount_due": p.amount,
                        "amount_paid": p.amount if paid else 0, "created": _ts(p.created_at), "charge": p.charge_id,
                        "status_transitions": {"paid_at": _ts(p.created_at) if paid else None},
                        # Stripe embeds the first 10 lines; the rest come from the invoice's lines list
                        "lines": {"object": "list", "data": lines[:10], "has_more": len(lines) > 10,
                                  "url": f"/v1/invoices/{p.invoice_id}/lines"}})
        return out

    def _invoice_lines(self, req: Request) -> Response:
        self._auth(req)
        s = self.world.sales
        invoice = req.match.group("invoice")
        payment = next((p for p in s.payments if p.invoice_id == invoice and s.seen(p.created_at)), None)
        if payment is None:
            raise ApiError(404, f"No such invoice: '{invoice}'")
        lines = [{**ln, "created": 0} for ln in self._lines(payment)]
        return self._list(req, f"invoices/{invoice}/lines", lines, by_created=False)

    def _customers(self) -> list[dict[str, Any]]:
        s = self.world.sales
        return [{"id": cid, "object": "customer", "created": _ts(at), "email": email,
                 "name": None, "metadata": {}} for cid, (at, email) in s.customers.items() if s.seen(at)]

    def _balance_transactions(self, req: Request) -> list[dict[str, Any]]:
        """Settled money in the account's currency (euros): one entry per charge (``payment`` for a
        bank debit), one per refund, a ``payment_failure_refund`` when the bank returns a debit, a
        dispute's withdrawal and its reinstatement when won (``adjustment``), each on its own date."""
        s = self.world.sales
        expand = req.query.get("expand[]") == "data.source"
        out = []

        def entry(txn: str, kind: str, category: str, when, amount: int, fee: int, source: dict, rate) -> None:
            out.append({"id": txn, "object": "balance_transaction", "amount": amount, "currency": "eur", "fee": fee,
                        "net": amount - fee, "exchange_rate": rate, "type": kind, "reporting_category": category,
                        "created": _ts(when), "available_on": _ts(when + dt.timedelta(days=7)),
                        "status": "available" if when + dt.timedelta(days=7) < s.now else "pending",
                        "source": source if expand else source["id"]})

        for p in s.charged():
            rate = None if p.currency == "eur" else p.settled(10_000) / 10_000
            charge = {"id": p.charge_id, "object": "charge", "amount": p.amount, "currency": p.currency}
            amount = p.settled(p.amount)
            entry("txn_" + p.charge_id[3:], "charge" if p.method == "card" else "payment", "charge", p.created_at,
                  amount, round(amount * 0.015) + 25, charge, rate)
            for n, (when, refund) in enumerate(p.refunds):
                if s.seen(when):
                    rid = f"re_{p.charge_id[3:]}{n}"
                    source = {"id": rid, "object": "refund", "amount": refund, "currency": p.currency,
                              "charge": p.charge_id, "created": _ts(when), "status": "succeeded"}
                    entry("txn_" + rid[3:], "refund", "refund", when, -p.settled(refund), 0, source, rate)
            if s.seen(p.returned_at):  # the source is the charge itself (its failure_balance_transaction)
                entry(_failure_id(p), "payment_failure_refund", "charge_failure", p.returned_at, -amount, 0,
                      charge, rate)
            if s.seen(p.disputed_at):
                won = s.seen(p.dispute_won_at)
                dispute = {"id": "dp_" + p.charge_id[3:], "object": "dispute", "amount": p.amount,
                           "currency": p.currency, "charge": p.charge_id, "reason": "fraudulent",
                           "status": "won" if won else "needs_response", "created": _ts(p.disputed_at)}
                entry("txn_" + p.charge_id[3:] + "dp", "adjustment", "dispute", p.disputed_at, -amount,
                      DISPUTE_FEE, dispute, rate)
                if won:
                    entry("txn_" + p.charge_id[3:] + "dr", "adjustment", "dispute_reversal", p.dispute_won_at,
                          amount, -DISPUTE_FEE, dispute, rate)
        kind = req.query.get("type")
        return [t for t in out if kind is None or t["type"] == kind]


def _failure_id(p) -> str:
    return "txn_" + p.charge_id[3:] + "rt"


def _method_details(p) -> dict[str, Any]:
    """How it was paid (``payment_method_details``): a card, or a bank debit the bank may return."""
    details = {"card": {"brand": "visa", "last4": "4242", "country": "BE"},
               "sepa_debit": {"bank_code": "37040044", "country": "BE", "last4": "3000", "mandate": "mandate_sandbox"},
               "bancontact": {"bank_code": "VAPE", "bank_name": "VAN DE PUT & CO", "iban_last4": "7061"}}
    return {"type": p.method, p.method: details[p.method]}


# --------------------------------------------------------------------------- Calendly

def _calendly_error(status: int, detail: str) -> Response:
    titles = {400: "Invalid Argument", 401: "Unauthenticated", 403: "Permission Denied", 404: "Resource Not Found",
              429: "Too Many Requests", 500: "Internal Server Error"}
    if status == 401:
        detail = "The access token is invalid"
    return Response(status, {"title": titles.get(status, "Error"), "message": detail},
                    headers={"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "0" if status == 429 else "499",
                             "X-RateLimit-Reset": "30"})


class CalendlyEmulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.server = ApiServer("calendly", _calendly_error)
        self.server.route("GET", r"/users/me")(self.me)
        self.server.route("GET", r"/scheduled_events")(self.events)
        self.server.route("GET", r"/event_types")(self.event_types)
        self.server.route("GET", r"/scheduled_events/(?P<uuid>[A-Za-z0-9]+)/invitees")(self.invitees)

    def _auth(self, req: Request) -> None:
        if req.headers.get("authorization") != f"Bearer {CALENDLY_TOKEN}":
            raise ApiError(401, "The access token is invalid")

    def me(self, req: Request) -> Response:
        self._auth(req)
        return Response(200, {"resource": {"uri": CALENDLY_USER, "current_organization": CALENDLY_ORG,
                                           "name": "Studio Lumen", "timezone": "Europe/Brussels"}})

    def _scope(self, req: Request) -> None:
        scopes = [k for k in ("user", "organization", "group") if k in req.query]
        if not scopes or (req.query.get("user") and req.query["user"] != CALENDLY_USER) or \
                (req.query.get("organization") and req.query["organization"] != CALENDLY_ORG):
            raise ApiError(400, "The supplied parameters are invalid.")

    def event_types(self, req: Request) -> Response:
        """The account's event types, active and inactive (``active=true|false`` filters)."""
        self._auth(req)
        self._scope(req)
        kinds = [(uri, name, True) for uri, name in EVENT_TYPES.values()] + [(*RETIRED_EVENT_TYPE, False)]
        rows = [{"uri": uri, "name": name, "active": active, "slug": name.lower().replace(" ", "-"),
                 "scheduling_url": "https://calendly.com/studiolumen/" + name.lower().replace(" ", "-"),
                 "duration": 30, "kind": "solo", "pooling_type": None, "type": "StandardEventType",
                 "color": "#8247f5", "created_at": "2024-01-08T09:00:00.000000Z",
                 "updated_at": "2025-03-02T09:00:00.000000Z", "internal_note": None, "description_plain": None,
                 "description_html": None, "profile": {"type": "User", "name": "Studio Lumen", "owner": CALENDLY_USER},
                 "secret": False, "booking_method": "instant", "custom_questions": [], "deleted_at": None,
                 "admin_managed": False, "locations": [{"kind": "physical", "location": "Studio Lumen, Gent"}],
                 "position": n}
                for n, (uri, name, active) in enumerate(kinds)
                if req.query.get("active") in (None, str(active).lower())]
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
            canceled = s.seen(b.canceled_at)
            status = "canceled" if canceled else "active"
            if req.query.get("status") and req.query["status"] != status:
                continue
            uri, name = EVENT_TYPES[b.event_type]
            event = {"uri": f"https://api.calendly.com/scheduled_events/{b.event_id}", "name": name, "status": status,
                     "start_time": start, "end_time": _iso(b.start_time + dt.timedelta(minutes=30)),
                     "event_type": uri, "location": {"type": "physical", "location": "Studio Lumen, Gent"},
                     "invitees_counter": {"total": 1, "active": 0 if canceled else 1, "limit": 1},
                     "created_at": _iso(b.created_at), "updated_at": _iso(b.canceled_at if canceled else b.created_at),
                     "event_memberships": [{"user": CALENDLY_USER, "user_email": "hello@studiolumen.be"}],
                     "event_guests": []}
            if canceled:
                event["cancellation"] = {"canceled_by": "Invitee", "reason": "", "canceler_type": "invitee",
                                         "created_at": _iso(b.canceled_at)}
            rows.append(event)
        rows.sort(key=lambda e: (e["start_time"], e["uri"]), reverse=req.query.get("sort") == "start_time:desc")
        return _page(req, rows)

    def invitees(self, req: Request) -> Response:
        """Who booked: the e-mail is only here, not on the event (docs/PLATFORMS.md#calendly)."""
        self._auth(req)
        s = self.world.sales
        event_id = req.match.group("uuid")
        booking = next((b for b in s.bookings if b.event_id == event_id and s.seen(b.created_at)), None)
        if booking is None:
            raise ApiError(404, "Resource Not Found")
        canceled = s.seen(booking.canceled_at)
        event_uri = f"https://api.calendly.com/scheduled_events/{event_id}"
        return _page(req, [{"uri": f"{event_uri}/invitees/INV{event_id[2:]}", "email": booking.invitee_email,
                            "name": "Sandbox Invitee", "status": "canceled" if canceled else "active",
                            "created_at": _iso(booking.created_at),
                            "updated_at": _iso(booking.canceled_at if canceled else booking.created_at),
                            "canceled": canceled, "rescheduled": False, "event": event_uri, "timezone": "Europe/Brussels"}])


def _page(req: Request, rows: list[dict[str, Any]]) -> Response:
    """Calendly's page-token paging over ``rows``."""
    count = int(req.query.get("count", 20))
    if not 1 <= count <= 100:
        raise ApiError(400, "The supplied parameters are invalid.")
    offset = _uncursor(req.query["page_token"]) if req.query.get("page_token") else 0
    page = rows[offset:offset + count]
    token = _cursor(offset + count) if offset + count < len(rows) else None
    return Response(200, {"collection": page, "pagination": {
        "count": len(page), "next_page_token": token, "previous_page_token": None,
        "next_page": f"{req.path}?page_token={token}" if token else None, "previous_page": None}},
        headers={"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "498", "X-RateLimit-Reset": "42"})


# --------------------------------------------------------------------------- HubSpot

def _hubspot_error(status: int, detail: str) -> Response:
    body: dict[str, Any] = {"status": "error", "message": detail, "correlationId": str(uuid.uuid4()),
                            "category": {401: "INVALID_AUTHENTICATION", 400: "VALIDATION_ERROR"}.get(status, "ERROR")}
    if status == 429:
        body.update(message="You have reached your secondly limit.", errorType="RATE_LIMIT", policyName="SECONDLY")
    if status == 401:
        body["message"] = "Authentication credentials not found."
    return Response(status, body)


class HubSpotEmulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.search_cap = 10_000
        self.server = ApiServer("hubspot", _hubspot_error)
        self.server.route("POST", r"/crm/v3/objects/(?P<kind>contacts|deals)/search")(self.search)
        self.server.route("GET", r"/crm/v3/properties/contacts/lifecyclestage")(self.lifecycle_stages)

    def lifecycle_stages(self, req: Request) -> Response:
        """The lifecyclestage property: its ``options`` are the portal's stages, custom ones too."""
        if req.headers.get("authorization") != f"Bearer {HUBSPOT_TOKEN}":
            raise ApiError(401, "Authentication credentials not found.")
        options = [{"label": label, "value": value, "displayOrder": n, "hidden": False, "description": ""}
                   for n, (value, label) in enumerate(LIFECYCLE_STAGES)]
        return Response(200, {"name": "lifecyclestage", "label": "Lifecycle Stage", "type": "enumeration",
                              "fieldType": "radio", "groupName": "contactinformation", "description": "",
                              "options": options, "displayOrder": -1, "calculated": False, "externalOptions": False,
                              "hasUniqueValue": False, "hidden": False, "formField": True,
                              "createdAt": "2019-08-06T02:41:08.029Z", "updatedAt": "2025-01-14T10:00:00.000Z",
                              "modificationMetadata": {"archivable": False, "readOnlyDefinition": True,
                                                       "readOnlyValue": False}})

    def search(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {HUBSPOT_TOKEN}":
            raise ApiError(401, "Authentication credentials not found.")
        body = req.json()
        limit = int(body.get("limit", 10))
        after = int(body.get("after", 0) or 0)
        if not 1 <= limit <= 200:
            raise ApiError(400, "limit must be between 1 and 200")
        if after >= self.search_cap:
            raise ApiError(400, f"Search results are limited to {self.search_cap} per query; narrow the filters.")
        records = self._contacts() if req.match.group("kind") == "contacts" else self._deals()
        for group in body.get("filterGroups") or []:
            for f in group.get("filters") or []:
                records = [r for r in records if _match(r, f)]
        # HubSpot sorts by the one property asked (createdate when none), ties by id
        sorts = body.get("sorts") or [{"propertyName": "createdate"}]
        by = sorts[0].get("propertyName", "createdate")
        records.sort(key=lambda r: (r["properties"].get(by) or "", r["id"]),
                     reverse=sorts[0].get("direction") == "DESCENDING")
        page = records[after:min(after + limit, self.search_cap)]
        # like HubSpot: only the asked-for properties, plus the few it always returns
        wanted = set(body.get("properties") or []) | {"createdate", "lastmodifieddate", "hs_lastmodifieddate",
                                                       "hs_object_id"}
        page = [{**r, "properties": {k: v for k, v in r["properties"].items() if k in wanted}} for r in page]
        out: dict[str, Any] = {"total": len(records), "results": page}
        if after + limit < len(records):
            out["paging"] = {"next": {"after": str(after + limit), "link": "?after=" + str(after + limit)}}
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
            current = max(entered, key=entered.get)
            changed = max(entered.values())
            props = {"email": c.email, "createdate": _ms_iso(c.created_at), "lifecyclestage": current,
                     "lastmodifieddate": _ms_iso(changed), "hs_object_id": c.contact_id,
                     **{f"hs_lifecyclestage_{stage}_date": _ms_iso(at) for stage, at in entered.items()}}
            out.append({"id": c.contact_id, "properties": props, "createdAt": _ms_iso(c.created_at),
                        "updatedAt": _ms_iso(changed), "archived": False})
        return out

    def _deals(self) -> list[dict[str, Any]]:
        s = self.world.sales
        return [{"id": d.deal_id, "properties": {
            "dealname": f"Treatment plan {d.deal_id[-4:]}", "amount": str(d.amount / 100),
            "dealstage": "closedwon" if d.won and s.seen(d.close_at) else "appointmentscheduled",
            "createdate": _ms_iso(d.created_at), "closedate": _ms_iso(d.close_at) if s.seen(d.close_at) else None,
            "hs_is_closed_won": "true" if d.won and s.seen(d.close_at) else "false",
            "hs_lastmodifieddate": _ms_iso(self._deal_modified(d))},
            "createdAt": _ms_iso(d.created_at), "updatedAt": _ms_iso(self._deal_modified(d)), "archived": False}
            for d in s.deals if s.seen(d.created_at)]

    def _deal_modified(self, d) -> dt.datetime:
        """A deal changes when it closes: its last modification moves then."""
        return d.close_at if self.world.sales.seen(d.close_at) else d.created_at


def _ms_iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{value.microsecond // 1000:03d}Z"


def _match(record: dict[str, Any], f: dict[str, Any]) -> bool:
    value = record["properties"].get(f.get("propertyName"))
    if value is None:
        return False
    target = f.get("value")
    if str(target).isdigit():  # epoch milliseconds
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

"""Stripe's API emulated (docs/PLATFORMS.md#stripe and #sandbox-fidelity): list envelopes newest
first, ``limit`` 1-100, ``starting_after``, ``created[gte|lt]``, amounts in cents,
``Request-Id``, error objects with type and code.
"""

from __future__ import annotations

import uuid
from typing import Any

from connectors.sandbox.faults import renaming, rewriting
from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import World
from connectors.stripe.emulator_balance import balance_transactions, failure_id, ts

STRIPE_KEY = "sk_test_sandbox0000"


# --------------------------------------------------------------------------- Stripe


def _stripe_error(status: int, detail: str) -> Response:
    kind, code = {
        400: ("invalid_request_error", "parameter_invalid"),
        401: ("invalid_request_error", None),
        404: ("invalid_request_error", "resource_missing"),
        429: ("invalid_request_error", "rate_limit"),
    }.get(status, ("api_error", None))
    if status == 401:
        detail = "Invalid API Key provided: sk_test_****"
    if status == 429:
        detail = "Too many requests hit the API too quickly."
    request_id = "req_" + uuid.uuid4().hex[:14]
    body = {
        "error": {
            "type": kind,
            "message": detail,
            "doc_url": "https://stripe.com/docs/error-codes",
            "request_log_url": f"https://dashboard.stripe.com/test/logs/{request_id}",
        }
    }
    if code:
        body["error"]["code"] = code
    return Response(
        status,
        body,
        headers={
            "Request-Id": request_id,
            "Stripe-Should-Retry": "true" if status in (429, 500) else "false",
        },
    )


class StripeEmulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.server = ApiServer("stripe", _stripe_error)
        self.server.route("GET", r"/v1/charges")(
            lambda r: self._list(r, "charges", self._charges())
        )
        self.server.route("GET", r"/v1/invoices")(
            lambda r: self._list(r, "invoices", self._invoices())
        )
        self.server.route("GET", r"/v1/invoices/(?P<invoice>in_[0-9a-f]+)/lines")(
            self._invoice_lines
        )
        self.server.route("GET", r"/v1/customers")(
            lambda r: self._list(r, "customers", self._customers())
        )
        self.server.route("GET", r"/v1/balance_transactions")(
            lambda r: self._list(r, "balance_transactions", self._balance_transactions(r))
        )

    def _auth(self, req: Request) -> None:
        if req.headers.get("authorization") != f"Bearer {STRIPE_KEY}":
            raise ApiError(401, "Invalid API Key provided")

    def _list(
        self, req: Request, name: str, objects: list[dict[str, Any]], *, by_created: bool = True
    ) -> Response:
        self._auth(req)
        try:
            limit = int(req.query.get("limit", 10))
            gte = int(req.query["created[gte]"]) if "created[gte]" in req.query else None
            lt = int(req.query["created[lt]"]) if "created[lt]" in req.query else None
        except ValueError:
            raise ApiError(400, "Invalid integer") from None
        if not 1 <= limit <= 100:
            raise ApiError(400, "Invalid limit: must be between 1 and 100")
        chosen = [
            o
            for o in objects
            if (gte is None or o["created"] >= gte) and (lt is None or o["created"] < lt)
        ]
        if by_created:
            chosen.sort(key=lambda o: (o["created"], o["id"]), reverse=True)  # newest first
        after = req.query.get("starting_after")
        if after:
            ids = [o["id"] for o in chosen]
            if after not in ids:
                raise ApiError(404, f"No such object: '{after}'")
            chosen = chosen[ids.index(after) + 1 :]
        return Response(
            200,
            {
                "object": "list",
                "url": f"/v1/{name}",
                "has_more": len(chosen) > limit,
                "data": chosen[:limit],
            },
            headers={"Request-Id": "req_" + uuid.uuid4().hex[:14], "Stripe-Version": "2024-06-20"},
        )

    def _charges(self) -> list[dict[str, Any]]:
        s = self.world.sales
        out = []
        for p in s.payments:
            if not s.seen(p.created_at):
                continue
            returned = s.seen(
                p.returned_at
            )  # the bank returned the debit: the charge failed after all
            status = "failed" if returned else p.status
            refunded = s.refunded(p) if p.status == "succeeded" else 0
            charge = {
                "id": p.charge_id,
                "object": "charge",
                "amount": p.amount,
                "amount_captured": p.amount if p.status == "succeeded" else 0,
                "amount_refunded": refunded,
                "currency": p.currency,
                "status": status,
                "paid": status == "succeeded",
                "refunded": refunded == p.amount,
                "captured": p.status == "succeeded",
                "created": ts(p.created_at),
                "customer": p.customer_id,
                "invoice": p.invoice_id,
                "billing_details": {"email": p.email, "name": None, "address": None, "phone": None},
                "balance_transaction": "txn_" + p.charge_id[3:]
                if p.status == "succeeded"
                else None,
                "payment_method_details": _method_details(p),
                "payment_intent": "pi_" + p.charge_id[3:],
                "livemode": False,
                "disputed": s.seen(p.disputed_at),
                "failure_balance_transaction": None,
            }
            if returned:
                charge.update(
                    {
                        "failure_code": "insufficient_funds",
                        "failure_balance_transaction": failure_id(p),
                        "failure_message": "The customer's account has insufficient funds to cover "
                        "this payment.",
                    }
                )
            out.append(charge)
        return out

    def _lines(self, p) -> list[dict[str, Any]]:
        return [
            {
                "id": f"il_{p.invoice_id[3:]}{i:02d}",
                "object": "line_item",
                "amount": ln.unit_amount * ln.quantity,
                "currency": "eur",
                "description": ln.name,
                "quantity": ln.quantity,
                "price": {
                    "id": f"price_{ln.product_id[5:]}",
                    "object": "price",
                    "product": ln.product_id,
                    "unit_amount": ln.unit_amount,
                    "currency": "eur",
                    "nickname": ln.name,
                },
            }
            for i, ln in enumerate(p.lines)
        ]

    def _invoices(self) -> list[dict[str, Any]]:
        s = self.world.sales
        out = []
        for p in s.payments:
            if not s.seen(p.created_at) or p.invoice_id is None:
                continue
            lines = self._lines(p)
            paid = p.status == "succeeded" and not s.seen(
                p.returned_at
            )  # a returned debit reopens it
            out.append(
                {
                    "id": p.invoice_id,
                    "object": "invoice",
                    "customer": p.customer_id,
                    "currency": "eur",
                    "status": "paid" if paid else "open",
                    "total": p.amount,
                    "amount_due": p.amount,
                    "amount_paid": p.amount if paid else 0,
                    "created": ts(p.created_at),
                    "charge": p.charge_id,
                    "status_transitions": {"paid_at": ts(p.created_at) if paid else None},
                    # Stripe embeds the first 10 lines; the rest come from the invoice's lines list
                    "lines": {
                        "object": "list",
                        "data": lines[:10],
                        "has_more": len(lines) > 10,
                        "url": f"/v1/invoices/{p.invoice_id}/lines",
                    },
                }
            )
        return out

    def _invoice_lines(self, req: Request) -> Response:
        self._auth(req)
        s = self.world.sales
        assert req.match is not None  # the route that chose this handler matched
        invoice = req.match.group("invoice")
        payment = next(
            (p for p in s.payments if p.invoice_id == invoice and s.seen(p.created_at)), None
        )
        if payment is None:
            raise ApiError(404, f"No such invoice: '{invoice}'")
        lines = [{**ln, "created": 0} for ln in self._lines(payment)]
        return self._list(req, f"invoices/{invoice}/lines", lines, by_created=False)

    def _customers(self) -> list[dict[str, Any]]:
        s = self.world.sales
        return [
            {
                "id": cid,
                "object": "customer",
                "created": ts(at),
                "email": email,
                "name": None,
                "metadata": {},
            }
            for cid, (at, email) in s.customers.items()
            if s.seen(at)
        ]

    def _balance_transactions(self, req: Request) -> list[dict[str, Any]]:
        expand = req.query.get("expand[]") == "data.source"
        return balance_transactions(self.world.sales, expand, req.query.get("type"))


def _method_details(p) -> dict[str, Any]:
    """How it was paid (``payment_method_details``): a card, or a bank debit the bank may return."""
    details = {
        "card": {"brand": "visa", "last4": "4242", "country": "BE"},
        "sepa_debit": {
            "bank_code": "37040044",
            "country": "BE",
            "last4": "3000",
            "mandate": "mandate_sandbox",
        },
        "bancontact": {"bank_code": "VAPE", "bank_name": "VAN DE PUT & CO", "iban_last4": "7061"},
    }
    return {"type": p.method, p.method: details[p.method]}


# what the sandbox reads (connectors/sandbox/__init__.py)
CREDENTIALS = {"stripe": {"api_key": STRIPE_KEY}}


def emulate(world: World, **_options: Any) -> StripeEmulator:
    return StripeEmulator(world)


# where tests/test_faults.py injects its faults: the data stream, its requests (a path regex), the
# records of an answer, a numeric field and the key field of a record ("" when there is none), and
# its own answer for a window without data (docs/PLATFORMS.md#empty-answers)
FAULT_TARGETS = {
    "stripe": dict(
        stream="charges",
        path=r"/v1/charges",
        records=lambda b: b["data"],
        typed_field="amount",
        key_field="id",
        empty=lambda body, req: {"object": "list", "url": req.path, "has_more": False, "data": []},
        throttled={"Stripe-Should-Retry": "true"},  # its 429 without Retry-After
        renamed=(renaming(lambda b: b["data"], "amount", "amount_captured_total"), "amount"),
        # the first page empty, saying more follow; a page saying more follow again
        empty_page=dict(transform=rewriting(lambda b: b.update(data=[], has_more=True))),
        onwards=lambda body, req, url: body.update(has_more=True),
    )
}

"""Stripe with ``requests`` and a pinned ``Stripe-Version`` (apis.md §7.1).

Charges (with their refunds), customers and invoices (whose line items carry price and
product: what sales per product needs; chosen over Checkout Sessions because invoices list
their lines inline, one request per page). ``limit``/``starting_after``/``has_more`` paging
inside ``created[gte]/[lt]`` windows. Amounts stay in minor units here; staging converts them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import requests

from connectors.errors import ConnectorError, RateLimitedError
from connectors.http import HttpClient, HttpConnector, RetryPolicy, register_secret
from connectors.pagination import CursorPaginator
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

PLATFORM = "stripe"
STRIPE_VERSION = "2024-06-20"  # charges still link their invoice in this version
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf",
                "xof", "xpf"}


def _stripe_classifier(response: requests.Response, stream: str | None, path: str) -> ConnectorError | None:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None
    if error.get("code") in ("rate_limit", "lock_timeout"):
        return RateLimitedError(error.get("message", "rate limited"), platform=PLATFORM, stream=stream,
                                status=response.status_code, path=path, request_id=response.headers.get("Request-Id"))
    return None


class StripeClient(HttpConnector):
    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 60.0,
                 policy: RetryPolicy | None = None) -> None:
        register_secret(api_key)
        self.http = HttpClient(PLATFORM, (base_url or "https://api.stripe.com").rstrip("/"),
                               headers={"Authorization": f"Bearer {api_key}", "Stripe-Version": STRIPE_VERSION},
                               timeout=(5.0, timeout), policy=policy, classifier=_stripe_classifier,
                               credential_setting="sources.stripe.api_key")

    def list(self, resource: str, window: Window, ctx: StreamContext, stream: str) -> Iterator[list[dict[str, Any]]]:
        paginator = CursorPaginator(100)
        params = {**paginator.first_params(), "created[gte]": int(ctx.local_start(window.start).timestamp()),
                  "created[lt]": int(ctx.local_start(window.end + dt.timedelta(days=1)).timestamp())}
        while True:
            body = self.http.request_json("GET", f"/v1/{resource}", stream=stream, params=params)
            items = body.get("data") or []
            yield items
            paginator.update(body, items)
            if not paginator.has_next:
                return
            params.update(paginator.next_params())


def connect(settings: dict[str, Any]) -> StripeClient:
    return StripeClient(settings["api_key"], settings.get("base_url"), settings.get("timeout", 60.0))


def _fetch(resource: str):
    def fetch(client: StripeClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
        for items in client.list(resource, window, ctx, resource):
            if items:
                yield Page(items, account="stripe")
    return fetch


def _local_day(key: str):
    return lambda r, ctx: ctx.local_date(dt.datetime.fromtimestamp(r[key], dt.timezone.utc))


def _lines(record: dict[str, Any], ctx: StreamContext) -> str:
    import json

    return json.dumps([{"product": (ln.get("price") or {}).get("product"), "name": ln.get("description"),
                        "amount": ln.get("amount"), "quantity": ln.get("quantity")}
                       for ln in (record.get("lines") or {}).get("data") or []])


def minor_unit_factor(currency: str) -> int:
    """How many minor units make one currency unit (1 for zero-decimal currencies like JPY)."""
    return 1 if (currency or "").lower() in ZERO_DECIMAL else 100


_CREATED = Column("created_date", "DATE", derive=_local_day("created"))
_MINOR = Column("minor_units", "BIGINT", derive=lambda r, c: minor_unit_factor(r.get("currency")))
STREAMS = {spec.name: spec for spec in (
    StreamSpec(PLATFORM, "charges", "Charges with amount refunded, on the payment date (business timezone).",
               key=("charge_id",), date_column="created_date", lookback_days=30, first_load_all=True,
               columns=(Column("charge_id", "VARCHAR", "id"), _CREATED, Column("created", "BIGINT"),
                        Column("customer_id", "VARCHAR", "customer"), Column("invoice_id", "VARCHAR", "invoice"),
                        Column("status", "VARCHAR"), Column("currency", "VARCHAR"), _MINOR,
                        Column("amount", "BIGINT"), Column("amount_refunded", "BIGINT"), Column("refunded", "BOOLEAN")),
               fetch=_fetch("charges")),
    StreamSpec(PLATFORM, "invoices", "Invoices with their line items (price, product, quantity).",
               key=("invoice_id",), date_column="created_date", lookback_days=30,
               columns=(Column("invoice_id", "VARCHAR", "id"), _CREATED, Column("customer_id", "VARCHAR", "customer"),
                        Column("charge_id", "VARCHAR", "charge"), Column("status", "VARCHAR"),
                        Column("currency", "VARCHAR"), _MINOR, Column("total", "BIGINT"),
                        Column("lines", "VARCHAR", derive=_lines)),
               fetch=_fetch("invoices")),
    StreamSpec(PLATFORM, "customers", "Customers by creation date.",
               key=("customer_id",), date_column="created_date", lookback_days=30,
               columns=(Column("customer_id", "VARCHAR", "id"), _CREATED, Column("email", "VARCHAR")),
               fetch=_fetch("customers")),
)}

"""Stripe with ``requests`` and a pinned ``Stripe-Version`` (docs/PLATFORMS.md#stripe).

Charges (with their refunds and the buyer), balance transactions (the money as settled in the
account's currency, and what takes it back (refunds, returned debits, disputes) on its own date),
customers and invoices (whose line items carry price and product: what sales per product needs; an
invoice with more than 10 lines has the rest paged from its lines list).
``limit``/``starting_after``/``has_more`` paging inside ``created[gte]/[lt]`` windows. Amounts stay
in minor units here; staging converts them.
E-mails become salted person keys here and never reach the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import requests

from connectors.errors import ConnectorError, RateLimitedError
from connectors.http import HttpClient, HttpConnector, RetryPolicy, register_secret
from connectors.pagination import CursorPaginator, records_at
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window, person_column
from connectors.stripe import PLATFORM

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "balance_transactions"
STRIPE_VERSION = "2024-06-20"  # charges still link their invoice in this version
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}


def _stripe_classifier(
    response: requests.Response, stream: str | None, path: str
) -> ConnectorError | None:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None
    if error.get("code") in ("rate_limit", "lock_timeout"):
        return RateLimitedError(
            error.get("message", "rate limited"),
            platform=PLATFORM,
            stream=stream,
            status=response.status_code,
            path=path,
            request_id=response.headers.get("Request-Id"),
        )
    return None


class StripeClient(HttpConnector):
    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        register_secret(api_key)
        self.http = HttpClient(
            PLATFORM,
            (base_url or "https://api.stripe.com").rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Stripe-Version": STRIPE_VERSION},
            timeout=(5.0, timeout),
            policy=policy,
            classifier=_stripe_classifier,
            credential_setting="sources.stripe.api_key",
        )

    def list(
        self,
        resource: str,
        window: Window | None,
        ctx: StreamContext | None,
        stream: str,
        extra: dict[str, Any] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of a list endpoint, within the window's created range when one is given."""
        paginator = CursorPaginator(100).for_stream(PLATFORM, stream)
        params = {**paginator.first_params(), **(extra or {})}
        if window is not None and ctx is not None:
            params.update(
                {
                    "created[gte]": int(ctx.local_start(window.start).timestamp()),
                    "created[lt]": int(
                        ctx.local_start(window.end + dt.timedelta(days=1)).timestamp()
                    ),
                }
            )
        while True:
            body = self.http.request_json("GET", f"/v1/{resource}", stream=stream, params=params)
            items = records_at(
                body, "data", platform=PLATFORM, stream=stream, where=f"/v1/{resource}"
            )
            yield items
            paginator.update(body, items)
            if not paginator.has_next:
                return
            params.update(paginator.next_params())


def connect(settings: dict[str, Any]) -> StripeClient:
    return StripeClient(
        settings["api_key"], settings.get("base_url"), settings.get("timeout", 60.0)
    )


def _fetch(resource: str, extra: dict[str, Any] | None = None):
    def fetch(client: StripeClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
        for items in client.list(resource, window, ctx, resource, extra):
            if items:
                yield Page(items, account="stripe")

    return fetch


def fetch_invoices(client: StripeClient, window: Window, ctx: StreamContext) -> Iterator[Page]:
    """Invoices with all their lines: Stripe embeds the first 10, the rest are paged separately."""
    for items in client.list("invoices", window, ctx, "invoices"):
        for invoice in items:
            lines = invoice.get("lines") or {}
            if lines.get("has_more"):
                rest = [
                    line
                    for page in client.list(
                        f"invoices/{invoice['id']}/lines", None, None, "invoices"
                    )
                    for line in page
                ]
                invoice["lines"] = {**lines, "data": rest, "has_more": False}
        if items:
            yield Page(items, account="stripe")


def _source(field: str):
    """A field of a balance transaction's source (expanded: the charge, a refund or a dispute)."""

    def value(record: dict[str, Any], ctx: StreamContext) -> Any:
        source = record.get("source")
        if not isinstance(source, dict):
            return source if field == "id" else None
        if field == "charge_id":  # a refund and a dispute name their charge; a charge is its own
            return (
                source.get("charge")
                if source.get("object") in ("refund", "dispute")
                else source.get("id")
            )
        return source.get(field)

    return value


def _local_day(key: str):
    return lambda r, ctx: ctx.local_date(dt.datetime.fromtimestamp(r[key], dt.timezone.utc))


def _lines(record: dict[str, Any], ctx: StreamContext) -> str:
    return json.dumps(
        [
            {
                "product": (ln.get("price") or {}).get("product"),
                "name": ln.get("description"),
                "amount": ln.get("amount"),
                "quantity": ln.get("quantity"),
            }
            for ln in (record.get("lines") or {}).get("data") or []
        ]
    )


def minor_unit_factor(currency: str | None) -> int:
    """How many minor units make one currency unit (1 for zero-decimal currencies like JPY)."""
    return 1 if (currency or "").lower() in ZERO_DECIMAL else 100


_CREATED = Column("created_date", "DATE", derive=_local_day("created"))
_MINOR = Column("minor_units", "BIGINT", derive=lambda r, c: minor_unit_factor(r.get("currency")))
STREAMS = {
    spec.name: spec
    for spec in (
        StreamSpec(
            PLATFORM,
            "charges",
            "Charges on the payment date (business timezone): amount in the charge's "
            "currency, refunds, customer, and a salted key of the billing "
            "e-mail (never the address).",
            key=("charge_id",),
            date_column="created_date",
            lookback_days=30,
            first_load_all=True,
            events=True,
            pii=("billing_details.email", "receipt_email"),
            columns=(
                Column("charge_id", "VARCHAR", "id"),
                _CREATED,
                Column("created", "BIGINT"),
                Column("customer_id", "VARCHAR", "customer"),
                Column("invoice_id", "VARCHAR", "invoice"),
                Column("status", "VARCHAR"),
                Column("currency", "VARCHAR"),
                _MINOR,
                Column("amount", "BIGINT", required=True),
                Column("amount_refunded", "BIGINT"),
                Column("refunded", "BOOLEAN"),
                person_column("billing_details.email", "billing_person_key"),
            ),
            fetch=_fetch("charges"),
        ),
        StreamSpec(
            PLATFORM,
            "balance_transactions",
            "Money settled in the account's currency: one entry per charge, "
            "and one for everything that takes it back on its own date (refunds, returned debits, "
            "disputes and their reversals, failed refunds), with the charge each belongs to.",
            key=("transaction_id",),
            date_column="created_date",
            lookback_days=30,
            first_load_all=True,
            columns=(
                Column("transaction_id", "VARCHAR", "id"),
                _CREATED,
                Column("type", "VARCHAR"),
                Column("reporting_category", "VARCHAR"),
                Column("source_object", "VARCHAR", derive=_source("object")),
                Column("currency", "VARCHAR"),
                _MINOR,
                Column("amount", "BIGINT", required=True),
                Column("fee", "BIGINT"),
                Column("net", "BIGINT", required=True),
                Column("exchange_rate", "DOUBLE"),
                Column("source_id", "VARCHAR", derive=_source("id")),
                Column("charge_id", "VARCHAR", derive=_source("charge_id")),
                Column("source_amount", "BIGINT", derive=_source("amount")),
                Column("source_currency", "VARCHAR", derive=_source("currency")),
            ),
            currency_column="currency",
            fetch=_fetch("balance_transactions", {"expand[]": "data.source"}),
        ),
        StreamSpec(
            PLATFORM,
            "invoices",
            "Invoices with all their line items (price, product, quantity).",
            key=("invoice_id",),
            date_column="created_date",
            lookback_days=30,
            columns=(
                Column("invoice_id", "VARCHAR", "id"),
                _CREATED,
                Column("customer_id", "VARCHAR", "customer"),
                Column("charge_id", "VARCHAR", "charge"),
                Column("status", "VARCHAR"),
                Column("currency", "VARCHAR"),
                _MINOR,
                Column("total", "BIGINT", required=True),
                Column("lines", "VARCHAR", derive=_lines),
            ),
            pii=("customer_email", "customer_name", "customer_address"),
            currency_column="currency",
            fetch=fetch_invoices,
        ),
        StreamSpec(
            PLATFORM,
            "customers",
            "Customers by creation date, with a salted key of their e-mail.",
            key=("customer_id",),
            date_column="created_date",
            lookback_days=30,
            pii=("email", "name", "phone"),
            # whole history: a customer made before history_start may buy after it
            first_load_all=True,
            columns=(Column("customer_id", "VARCHAR", "id"), _CREATED, person_column("email")),
            fetch=_fetch("customers"),
        ),
    )
}

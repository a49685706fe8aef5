"""The Stripe emulator's balance transactions: settled money in the account's currency (euros)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.sandbox.sales_world import Sales

DISPUTE_FEE = (
    1500  # euro cents Stripe withholds when a dispute opens (and gives back when it is won)
)


def ts(value: dt.datetime) -> int:
    """A time as Stripe's Unix seconds."""
    return int(value.timestamp())


def failure_id(p) -> str:
    """The balance transaction of a returned debit (the charge's failure_balance_transaction)."""
    return "txn_" + p.charge_id[3:] + "rt"


def balance_transactions(s: Sales, expand: bool, only: str | None) -> list[dict[str, Any]]:
    """One entry per charge (``payment`` for a bank debit), one per refund, a
    ``payment_failure_refund`` when the bank returns a debit, a dispute's withdrawal and its
    reinstatement when won (``adjustment``), each on its own date; ``expand`` embeds each
    source object, ``only`` keeps one ``type``."""
    out = []

    def entry(
        txn: str, kind: str, category: str, when, amount: int, fee: int, source: dict, rate
    ) -> None:
        out.append(
            {
                "id": txn,
                "object": "balance_transaction",
                "amount": amount,
                "currency": "eur",
                "fee": fee,
                "net": amount - fee,
                "exchange_rate": rate,
                "type": kind,
                "reporting_category": category,
                "created": ts(when),
                "available_on": ts(when + dt.timedelta(days=7)),
                "status": "available" if when + dt.timedelta(days=7) < s.now else "pending",
                "source": source if expand else source["id"],
            }
        )

    for p in s.charged():
        rate = None if p.currency == "eur" else p.settled(10_000) / 10_000
        charge = {
            "id": p.charge_id,
            "object": "charge",
            "amount": p.amount,
            "currency": p.currency,
        }
        amount = p.settled(p.amount)
        entry(
            "txn_" + p.charge_id[3:],
            "charge" if p.method == "card" else "payment",
            "charge",
            p.created_at,
            amount,
            round(amount * 0.015) + 25,
            charge,
            rate,
        )
        for n, (when, refund) in enumerate(p.refunds):
            if s.seen(when):
                rid = f"re_{p.charge_id[3:]}{n}"
                source = {
                    "id": rid,
                    "object": "refund",
                    "amount": refund,
                    "currency": p.currency,
                    "charge": p.charge_id,
                    "created": ts(when),
                    "status": "succeeded",
                }
                entry(
                    "txn_" + rid[3:],
                    "refund",
                    "refund",
                    when,
                    -p.settled(refund),
                    0,
                    source,
                    rate,
                )
        if s.seen(
            p.returned_at
        ):  # the source is the charge itself (its failure_balance_transaction)
            entry(
                failure_id(p),
                "payment_failure_refund",
                "charge_failure",
                p.returned_at,
                -amount,
                0,
                charge,
                rate,
            )
        if p.disputed_at is not None and s.seen(p.disputed_at):
            won = s.seen(p.dispute_won_at)
            dispute = {
                "id": "dp_" + p.charge_id[3:],
                "object": "dispute",
                "amount": p.amount,
                "currency": p.currency,
                "charge": p.charge_id,
                "reason": "fraudulent",
                "status": "won" if won else "needs_response",
                "created": ts(p.disputed_at),
            }
            entry(
                "txn_" + p.charge_id[3:] + "dp",
                "adjustment",
                "dispute",
                p.disputed_at,
                -amount,
                DISPUTE_FEE,
                dispute,
                rate,
            )
            if won:
                entry(
                    "txn_" + p.charge_id[3:] + "dr",
                    "adjustment",
                    "dispute_reversal",
                    p.dispute_won_at,
                    amount,
                    -DISPUTE_FEE,
                    dispute,
                    rate,
                )
    return [t for t in out if only is None or t["type"] == only]

"""The salon's sales funnel: leads -> intro calls -> customers -> repeat purchases.

Leads are CRM contacts; some book an intro call (Calendly) a few days ahead, some cancel
before it; some callers, and some webshop visitors directly, become customers with a first
payment (Stripe), and customers come back. Payments buy products; some are refunded later.
Everything late (cancellations, refunds) carries the time it happens and is hidden until the
world's now. Truth methods compute the sales KPIs from these events directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from connectors.sandbox.marketing_world import days, rng_for

PRODUCTS = [("prod_facial", "Signature facial", 8900), ("prod_peel", "Gentle peel", 6500),
            ("prod_serum", "Vitamin C serum", 3950), ("prod_cream", "Night cream", 4600),
            ("prod_voucher", "Gift voucher", 5000)]
STAGES = ["lead", "marketingqualifiedlead", "salesqualifiedlead", "subscriber", "other"]


@dataclass
class Contact:
    contact_id: str
    email: str
    created_at: dt.datetime
    stage: str


@dataclass
class Booking:
    event_id: str
    event_type: str  # "intro" | "follow_up"
    contact_id: str
    created_at: dt.datetime
    start_time: dt.datetime
    canceled_at: dt.datetime | None = None


@dataclass
class Line:
    product_id: str
    name: str
    unit_amount: int
    quantity: int


@dataclass
class Payment:
    charge_id: str
    invoice_id: str
    customer_id: str
    created_at: dt.datetime
    lines: list[Line]
    status: str = "succeeded"
    refunds: list[tuple[dt.datetime, int]] = field(default_factory=list)

    @property
    def amount(self) -> int:
        return sum(line.unit_amount * line.quantity for line in self.lines)


@dataclass
class Deal:
    deal_id: str
    contact_id: str
    created_at: dt.datetime
    close_at: dt.datetime | None
    amount: int
    won: bool


def _id(prefix: str, *parts: object) -> str:
    return prefix + hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:14]


class Sales:
    def __init__(self, seed: int, start: dt.date, as_of: dt.date, now: dt.datetime, tz) -> None:
        self.now = now
        self.contacts: list[Contact] = []
        self.bookings: list[Booking] = []
        self.payments: list[Payment] = []
        self.deals: list[Deal] = []
        self.customers: dict[str, dt.datetime] = {}  # customer id -> created
        buyers: list[str] = []

        def at(day: dt.date, rng, lo: int = 8, hi: int = 20) -> dt.datetime:
            local = dt.datetime.combine(day, dt.time(rng.randrange(lo, hi), rng.randrange(60)), tz)
            return local.astimezone(dt.timezone.utc)

        for day in days(start, as_of):
            rng = rng_for(seed, "sales", day)
            for n in range(rng.randrange(2, 9)):
                created = at(day, rng, 0, 24)
                stage = rng.choices(STAGES, [55, 15, 8, 17, 5])[0]
                contact = Contact(_id("", seed, "contact", day, n), f"lead{day:%Y%m%d}{n}@example.com", created, stage)
                self.contacts.append(contact)
                if rng.random() < 0.45:  # books an intro call in 1-14 days
                    start_time = at(day + dt.timedelta(days=rng.randrange(1, 15)), rng, 9, 18)
                    booking = Booking(_id("EV", seed, contact.contact_id), "intro", contact.contact_id, created,
                                      start_time)
                    if rng.random() < 0.15:
                        booking.canceled_at = created + (start_time - created) * rng.uniform(0.2, 0.9)
                    self.bookings.append(booking)
                    if booking.canceled_at is None and rng.random() < 0.4:
                        self._buy(rng, contact.contact_id, start_time + dt.timedelta(days=rng.randrange(0, 6), hours=2),
                                  buyers)
                        self.deals.append(Deal(_id("", seed, "deal", contact.contact_id), contact.contact_id, created,
                                               start_time + dt.timedelta(days=1), rng.randrange(100, 600) * 100, True))
            if rng.random() < 0.3:  # a follow-up meeting, not an intro call
                self.bookings.append(Booking(_id("EV", seed, "fu", day), "follow_up", "", at(day, rng),
                                             at(day + dt.timedelta(days=3), rng, 9, 18)))
            for n in range(rng.randrange(0, 3)):  # webshop buyers without a call
                self._buy(rng, _id("", seed, "shop", day, n), at(day, rng, 7, 23), buyers)
            for _ in range(rng.randrange(0, 4)):  # returning customers
                if buyers:
                    self._buy(rng, buyers[rng.randrange(len(buyers))], at(day, rng, 7, 23), buyers, returning=True)

    def _buy(self, rng, who: str, when: dt.datetime, buyers: list[str], returning: bool = False) -> None:
        customer = who if returning else "cus_" + who[-14:]
        if customer not in self.customers:
            self.customers[customer] = when
            buyers.append(customer)
        lines = [Line(pid, name, price, rng.randrange(1, 3)) for pid, name, price in
                 rng.sample(PRODUCTS, rng.randrange(1, 3))]
        payment = Payment(_id("ch_", customer, when), _id("in_", customer, when), customer, when, lines)
        if rng.random() < 0.04:
            payment.status = "failed"
        elif rng.random() < 0.06:
            payment.refunds.append((when + dt.timedelta(days=rng.randrange(1, 25)), payment.amount // rng.choice((1, 2))))
        self.payments.append(payment)

    # ------------------------------------------------------------------ views

    def seen(self, ts: dt.datetime | None) -> bool:
        return ts is not None and ts < self.now

    def refunded(self, p: Payment) -> int:
        return sum(a for t, a in p.refunds if self.seen(t))

    def succeeded(self) -> list[Payment]:
        return [p for p in self.payments if p.status == "succeeded" and self.seen(p.created_at)]

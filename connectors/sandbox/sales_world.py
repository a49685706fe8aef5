"""The salon's sales funnel: leads -> intro calls -> customers -> repeat purchases.

Contacts enter the CRM at some stage; most are leads at once, some subscribers become leads
days later, and a lead who buys becomes a customer (the current stage changes, the lead date
stays). Some leads book an intro call (Calendly) a few days ahead, some cancel; some callers,
some leads without a call and some webshop visitors buy (Stripe). People are the same person
across platforms by e-mail, typed differently now and then (case, spaces). Some buyers check
out as guests (no Stripe customer), a few pay in US dollars or yen (settled in euros), some
payments are refunded later, in part or in full, a few of them months later. Everything late
carries the time it happens and is hidden until the world's now.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from connectors.sandbox.marketing_world import days, rng_for

PRODUCTS = [
    ("prod_facial", "Signature facial", 8900),
    ("prod_peel", "Gentle peel", 6500),
    ("prod_serum", "Vitamin C serum", 3950),
    ("prod_cream", "Night cream", 4600),
    ("prod_voucher", "Gift voucher", 5000),
]
STAGES = ["lead", "marketingqualifiedlead", "salesqualifiedlead", "subscriber", "other"]
# settlement into the account's euros: units of the charge currency's minor unit -> euro cents
SETTLE = {"eur": 1.0, "usd": 0.9213, "jpy": 0.61}  # 1 yen (zero-decimal) = 0.61 euro cent
GIFT_BASKET_LINES = 12  # more lines than Stripe embeds in an invoice (10): the rest are paged


@dataclass
class Contact:
    contact_id: str
    email: str
    created_at: dt.datetime
    stage: str  # the stage it entered with
    lead_at: dt.datetime | None = None  # when it became a lead (subscribers may later)
    customer_at: dt.datetime | None = None


@dataclass
class Booking:
    event_id: str
    event_type: (
        str  # "intro" | "follow_up" | "follow_up_intro" (its name contains "intro call"; not one)
    )
    contact_id: str
    created_at: dt.datetime
    start_time: dt.datetime
    invitee_email: str = ""
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
    invoice_id: str | None
    customer_id: str | None  # None: a guest checkout, identified by its billing e-mail
    email: str
    created_at: dt.datetime
    lines: list[Line]
    currency: str = "eur"
    status: str = "succeeded"
    refunds: list[tuple[dt.datetime, int]] = field(
        default_factory=list
    )  # (when, charge-currency units)
    method: str = "card"  # or a bank debit: "sepa_debit" | "bancontact"
    returned_at: dt.datetime | None = None  # the bank returned the debit: the money went back
    disputed_at: dt.datetime | None = None  # a card dispute took the amount (and a fee)
    dispute_won_at: dt.datetime | None = None  # the salon won it: the amount came back

    @property
    def amount(self) -> int:
        return sum(line.unit_amount * line.quantity for line in self.lines)

    def settled(self, amount: int) -> int:
        """Euro cents credited to the account for ``amount`` of the charge currency."""
        return round(amount * SETTLE[self.currency])


@dataclass
class Deal:
    deal_id: str
    contact_id: str
    created_at: dt.datetime
    close_at: dt.datetime | None
    amount: int
    won: bool


def quiet_week(day: dt.date) -> bool:
    """Now and then a week when the owner is away: no new leads, no calls, no ads."""
    return day.isocalendar()[1] % 9 == 0


def _id(prefix: str, *parts: object) -> str:
    return prefix + hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:14]


def _typed(rng, email: str) -> str:
    """The same address as a person types it now and then: capitals, a stray space."""
    roll = rng.random()
    if roll < 0.15:
        return email.upper()
    if roll < 0.25:
        return f" {email.capitalize()} "
    return email


class Sales:
    def __init__(self, seed: int, start: dt.date, as_of: dt.date, now: dt.datetime, tz) -> None:
        self.now = now
        self.seed = seed
        self.contacts: list[Contact] = []
        self.bookings: list[Booking] = []
        self.payments: list[Payment] = []
        self.deals: list[Deal] = []
        self.customers: dict[str, tuple[dt.datetime, str]] = {}  # customer id -> (created, e-mail)
        buyers: list[tuple[str, str]] = []  # (customer id, e-mail)
        guests: list[str] = []  # e-mails of guest checkouts that have not opened an account yet

        def at(day: dt.date, rng, lo: int = 8, hi: int = 20) -> dt.datetime:
            local = dt.datetime.combine(day, dt.time(rng.randrange(lo, hi), rng.randrange(60)), tz)
            return local.astimezone(dt.timezone.utc)

        for day in days(start, as_of):
            rng = rng_for(seed, "sales", day)
            quiet = quiet_week(day)
            late = rng_for(
                seed, "late-leads", day
            )  # its own draws: the rest of the day is as it was
            for n in range(0 if quiet else rng.randrange(2, 9)):
                created = at(day, rng, 0, 24)
                stage = rng.choices(STAGES, [55, 15, 8, 17, 5])[0]
                contact = Contact(
                    _id("", seed, "contact", day, n),
                    f"lead{day:%Y%m%d}{n}@example.com",
                    created,
                    stage,
                )
                if stage in ("lead", "marketingqualifiedlead", "salesqualifiedlead"):
                    contact.lead_at = created
                elif (
                    stage == "subscriber" and rng.random() < 0.5
                ):  # becomes a lead within three weeks
                    contact.lead_at = created + dt.timedelta(days=rng.uniform(1, 20))
                self.contacts.append(contact)
                if contact.lead_at and rng.random() < 0.45:  # books an intro call in 1-14 days
                    meeting_day = day + dt.timedelta(days=rng.randrange(1, 15))
                    if quiet_week(meeting_day):  # the owner is away: no calls that week
                        meeting_day += dt.timedelta(days=7)
                    start_time = at(meeting_day, rng, 9, 18)
                    booking = Booking(
                        _id("EV", seed, contact.contact_id),
                        "intro",
                        contact.contact_id,
                        created,
                        start_time,
                        _typed(rng, contact.email),
                    )
                    if rng.random() < 0.15:
                        booking.canceled_at = created + (start_time - created) * rng.uniform(
                            0.2, 0.9
                        )
                    self.bookings.append(booking)
                    if booking.canceled_at is None and rng.random() < 0.4:
                        self._buy(
                            rng,
                            contact,
                            start_time + dt.timedelta(days=rng.randrange(0, 6), hours=2),
                            buyers,
                        )
                        self.deals.append(
                            Deal(
                                _id("", seed, "deal", contact.contact_id),
                                contact.contact_id,
                                created,
                                start_time + dt.timedelta(days=1),
                                rng.randrange(100, 600) * 100,
                                True,
                            )
                        )
                elif (
                    contact.lead_at and rng.random() < 0.08
                ):  # buys without a call, up to two months later
                    self._buy(
                        rng,
                        contact,
                        contact.lead_at + dt.timedelta(days=rng.uniform(0.5, 60)),
                        buyers,
                    )
                if stage == "subscriber" and contact.lead_at is None and late.random() < 0.5:
                    # a newsletter reader who asks for a treatment one and a half to seven months
                    # on: long after any re-fetch by creation date would look
                    # (HubSpot's lastmodifieddate moves)
                    contact.lead_at = created + dt.timedelta(days=late.uniform(45, 210))
            if rng.random() < 0.3:  # a follow-up meeting, not an intro call
                self.bookings.append(
                    Booking(
                        _id("EV", seed, "fu", day),
                        "follow_up",
                        "",
                        at(day, rng),
                        at(day + dt.timedelta(days=3), rng, 9, 18),
                        "client@example.com",
                    )
                )
            for n in range(rng.randrange(0, 3)):  # webshop buyers without a call
                guest = rng.random() < 0.15
                email = f"shop{day:%Y%m%d}{n}@example.com"
                self._pay(
                    rng,
                    None if guest else "cus_" + _id("", seed, "shop", day, n)[-14:],
                    email,
                    at(day, rng, 7, 23),
                    buyers,
                    currency=rng.choices(["eur", "usd", "jpy"], [94, 4, 2])[0],
                )
                if guest:
                    guests.append(email)
            back = rng_for(
                seed, "guest-account", day
            )  # its own stream: the draws above stay as they were
            if (
                guests and back.random() < 0.05
            ):  # a former guest opens an account with the same e-mail
                email = guests.pop(back.randrange(len(guests)))
                self._pay(
                    back,
                    "cus_" + _id("", seed, "guest", email)[-14:],
                    _typed(back, email),
                    at(day, back, 7, 23),
                    buyers,
                )
            for _ in range(rng.randrange(0, 4)):  # returning customers
                if buyers:
                    customer_id, email = buyers[rng.randrange(len(buyers))]
                    self._pay(rng, customer_id, email, at(day, rng, 7, 23), buyers)
            if day.day == 15:  # a gift basket: an invoice with more lines than Stripe embeds
                if buyers:
                    customer_id, email = buyers[rng.randrange(len(buyers))]
                    lines = [
                        Line(*PRODUCTS[i % len(PRODUCTS)], 1) for i in range(GIFT_BASKET_LINES)
                    ]
                    self._pay(rng, customer_id, email, at(day, rng, 9, 17), buyers, lines=lines)
        for booking in [
            b for b in self.bookings if b.event_type == "intro" and b.canceled_at is None
        ]:
            # some callers book a "Follow-up na intro call" a week or two later: a name that
            # contains the intro call's, which must not count as one (its own draws: the rest stays)
            rng = rng_for(seed, "follow-up-intro", booking.event_id)
            if rng.random() < 0.12:
                meeting_day = booking.start_time.astimezone(tz).date() + dt.timedelta(
                    days=rng.randrange(7, 15)
                )
                if quiet_week(meeting_day):
                    meeting_day += dt.timedelta(days=7)
                self.bookings.append(
                    Booking(
                        _id("EV", seed, "fui", booking.event_id),
                        "follow_up_intro",
                        booking.contact_id,
                        booking.start_time + dt.timedelta(hours=1),
                        at(meeting_day, rng, 9, 18),
                        booking.invitee_email,
                    )
                )
        first_paid: dict[str, dt.datetime] = {}
        for p in self.payments:
            if p.status == "succeeded" and p.returned_at is None:  # a returned debit is no purchase
                key = p.email.strip().lower()
                first_paid[key] = min(first_paid.get(key, p.created_at), p.created_at)
        for contact in self.contacts:
            contact.customer_at = first_paid.get(contact.email)

    def _buy(self, rng, contact: Contact, when: dt.datetime, buyers: list[tuple[str, str]]) -> None:
        self._pay(rng, "cus_" + contact.contact_id[-14:], _typed(rng, contact.email), when, buyers)

    def _pay(
        self,
        rng,
        customer_id: str | None,
        email: str,
        when: dt.datetime,
        buyers: list[tuple[str, str]],
        currency: str = "eur",
        lines: list[Line] | None = None,
    ) -> None:
        if customer_id and customer_id not in self.customers:
            self.customers[customer_id] = (when, email)
            buyers.append((customer_id, email))
        lines = lines or [
            Line(pid, name, price, rng.randrange(1, 3))
            for pid, name, price in rng.sample(PRODUCTS, rng.randrange(1, 3))
        ]
        if currency == "jpy":  # prices in yen (no minor unit)
            lines = [
                Line(ln.product_id, ln.name, ln.unit_amount * 164 // 100, ln.quantity)
                for ln in lines
            ]
        charge_id = _id("ch_", customer_id or email, when)
        invoiced = (
            currency == "eur" and customer_id is not None
        )  # one-off foreign and guest payments: no invoice
        payment = Payment(
            charge_id,
            _id("in_", charge_id) if invoiced else None,
            customer_id,
            email,
            when,
            lines,
            currency,
        )
        roll = rng.random()
        if roll < 0.04:
            payment.status = "failed"
        elif roll < 0.07:  # refunded within weeks, in full or in half
            payment.refunds.append(
                (
                    when + dt.timedelta(days=rng.randrange(1, 25)),
                    payment.amount // rng.choice((1, 2)),
                )
            )
        elif roll < 0.08:  # refunded in full months later, long after the charges' re-fetch window
            payment.refunds.append(
                (when + dt.timedelta(days=rng.randrange(45, 120)), payment.amount)
            )
        self._settle(payment)
        self.payments.append(payment)

    def _settle(self, p: Payment) -> None:
        """How the money of a payment fares: paid by bank debit and returned, or disputed (its own
        random stream per charge, so the draws that shape the rest of the
        world stay as they were)."""
        rng = rng_for(self.seed, "settle", p.charge_id)
        debit, method, returned, days_later, disputed, won = (
            rng.random(),
            rng.choice(["sepa_debit", "bancontact"]),
            rng.random(),
            rng.uniform(2, 9),
            rng.random(),
            rng.random(),
        )
        if p.currency == "eur" and debit < 0.2:
            p.method = method
        if p.status != "succeeded" or p.refunds:
            return
        if p.method != "card" and returned < 0.12:  # insufficient funds, account closed...
            p.returned_at = p.created_at + dt.timedelta(days=days_later)
        elif p.method == "card" and disputed < 0.01:
            p.disputed_at = p.created_at + dt.timedelta(days=5 * days_later)
            if won < 0.5:
                p.dispute_won_at = p.disputed_at + dt.timedelta(days=4 * days_later)

    # ------------------------------------------------------------------ views

    def seen(self, ts: dt.datetime | None) -> bool:
        return ts is not None and ts < self.now

    def refunded(self, p: Payment) -> int:
        """Refunded so far, in the charge currency's minor units."""
        return sum(a for t, a in p.refunds if self.seen(t))

    def charged(self) -> list[Payment]:
        """Payments whose money came in (a debit the bank returned later included)."""
        return [p for p in self.payments if p.status == "succeeded" and self.seen(p.created_at)]

    def succeeded(self) -> list[Payment]:
        """Payments that succeeded and stand by now (not returned by the bank)."""
        return [p for p in self.charged() if not self.seen(p.returned_at)]

    def stage_dates(self, c: Contact) -> dict[str, dt.datetime]:
        """The lifecycle stages a contact has entered by now, with when (HubSpot keeps them all)."""
        out = {c.stage: c.created_at}
        if c.lead_at and c.lead_at != c.created_at and self.seen(c.lead_at):
            out["lead"] = c.lead_at
        if c.customer_at is not None and self.seen(c.customer_at):
            out["customer"] = c.customer_at
        return out

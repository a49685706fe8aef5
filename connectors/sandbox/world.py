"""A seeded fictional business: Studio Lumen, a beauty salon with a webshop and a newsletter.

The world is a list of events generated day by day from ``WORLD_START`` up to ``now`` (the
start of the day after ``as_of``, business-local). Every draw on a given day comes from a
random generator seeded by (seed, day), and the world is always generated from the same
start in the same order, so two worlds with different ``as_of`` agree on every shared day.

The emulated APIs (each platform's ``emulator.py``) serve views of these events; the
``truth_*`` methods compute KPI values straight from the events, without the API path, so
tests can compare the pipeline's numbers with them. The clock (WORLD_START, the business-local day)
is clock.py; the newsletter's people and campaigns newsletter_world.py; the ads, the website and
Instagram marketing_world.py; the shop, its bookings and its CRM sales_world.py.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from connectors.sandbox.clock import (
    TIMEZONE as TIMEZONE,
)  # the emulators import them from here
from connectors.sandbox.clock import TZ, WORLD_START, local_date, local_midnight
from connectors.sandbox.clock import (
    UTC as UTC,
)
from connectors.sandbox.marketing_world import Ads, Instagram, WebTraffic
from connectors.sandbox.newsletter_world import LIST_ID as LIST_ID
from connectors.sandbox.newsletter_world import LIST_NAME as LIST_NAME
from connectors.sandbox.newsletter_world import Campaign, Newsletter
from connectors.sandbox.sales_world import Sales

COLD_DAYS = 90


class World:
    """The business's events up to ``now``; pure data plus truth queries."""

    def __init__(self, as_of: dt.date, seed: int = 7) -> None:
        if as_of < WORLD_START:
            raise ValueError(f"as_of {as_of} is before the sandbox world starts ({WORLD_START})")
        self.seed = seed
        self.as_of = as_of
        self.now = local_midnight(as_of + dt.timedelta(days=1))
        self.newsletter = Newsletter(seed, as_of, self.now)
        # the newsletter's members, campaigns and (time, kind, member_id) changes,
        # as the emulators read them
        self.members = self.newsletter.members
        self.campaigns = self.newsletter.campaigns
        self.changes = self.newsletter.changes
        self.web = WebTraffic(seed, WORLD_START, as_of)
        self.ads = Ads(seed, WORLD_START, as_of, self.now)
        self.instagram = Instagram(seed, WORLD_START, as_of)
        self.sales = Sales(seed, WORLD_START, as_of, self.now, TZ)

    # ------------------------------------------------------------------ views for APIs

    def seen(self, ts: dt.datetime) -> bool:
        """Whether an event at ``ts`` has happened by the world's ``now``."""
        return ts < self.now

    def subscribed_at(self, when: dt.datetime) -> int:
        """Subscribed members at an instant, counted from member timelines."""
        return sum(
            1
            for m in self.members.values()
            if m.opted_in_at < when and (m.removed_at is None or m.removed_at >= when)
        )

    # ------------------------------------------------------------------ ground truth

    def _changes_between(self, start: dt.date, end: dt.date, kinds: set[str]) -> int:
        lo, hi = local_midnight(start), local_midnight(end + dt.timedelta(days=1))
        return sum(
            1 for at, kind, _ in self.changes if kind in kinds and lo <= at < hi and self.seen(at)
        )

    def truth_new_subscribers(self, start: dt.date, end: dt.date) -> int:
        return self._changes_between(start, end, {"signup", "import"})

    def truth_unsubscribes(self, start: dt.date, end: dt.date) -> int:
        return self._changes_between(start, end, {"unsub"})

    def truth_net_growth(self, start: dt.date, end: dt.date) -> int:
        return self._changes_between(start, end, {"signup", "import"}) - self._changes_between(
            start, end, {"unsub", "cleaned"}
        )

    def truth_subscribers(self, day: dt.date) -> int:
        """Subscribed members at the end of a business-local day."""
        return self.subscribed_at(local_midnight(day + dt.timedelta(days=1)))

    def truth_churn_rate(self, start: dt.date, end: dt.date) -> float | None:
        opening = self.truth_subscribers(start - dt.timedelta(days=1))
        lost = self._changes_between(start, end, {"unsub", "cleaned"})
        return lost / opening if opening else None

    def _campaign_sums(self, start: dt.date, end: dt.date) -> tuple[int, int, int]:
        delivered = opens = clicks = 0
        for c in self.campaigns_sent():
            if not start <= local_date(c.send_time) <= end:
                continue
            for r in c.recipients:
                if r.outcome != "delivered":
                    continue
                delivered += 1
                opens += any(self.seen(t) for t in r.opens)
                clicks += any(self.seen(t) for t in r.clicks)
        return delivered, opens, clicks

    def truth_open_rate(self, start: dt.date, end: dt.date) -> float | None:
        delivered, opens, _ = self._campaign_sums(start, end)
        return opens / delivered if delivered else None

    def truth_click_rate(self, start: dt.date, end: dt.date) -> float | None:
        delivered, _, clicks = self._campaign_sums(start, end)
        return clicks / delivered if delivered else None

    def truth_click_to_open_rate(self, start: dt.date, end: dt.date) -> float | None:
        _, opens, clicks = self._campaign_sums(start, end)
        return clicks / opens if opens else None

    def truth_cold_share(self, day: dt.date) -> float | None:
        """Of those subscribed at the end of ``day`` who opted in 90+ days before it, the share
        with no open in the 90 days ending that day."""
        end = local_midnight(day + dt.timedelta(days=1))
        since = local_midnight(day - dt.timedelta(days=COLD_DAYS - 1))
        opened: set[str] = set()
        for c in self.campaigns_sent():
            for r in c.recipients:
                if any(since <= t < end and self.seen(t) for t in r.opens):
                    opened.add(r.member_id)
        subscribed = [
            m.member_id
            for m in self.members.values()
            if m.opted_in_at < end
            and (m.removed_at is None or m.removed_at >= end)
            and local_date(m.opted_in_at) <= day - dt.timedelta(days=COLD_DAYS)
        ]
        if not subscribed:
            return None
        return sum(1 for m in subscribed if m not in opened) / len(subscribed)

    def campaigns_sent(self) -> list[Campaign]:
        return [c for c in self.campaigns if self.seen(c.send_time)]

    # ------------------------------------------------------------------ marketing truth

    def truth_ads(
        self,
        start: dt.date,
        end: dt.date,
        network: str | None = None,
        campaign: str | None = None,
        campaign_id: str | None = None,
    ) -> dict[str, float]:
        """Sums over ad rows: impressions, clicks (link clicks), spend in currency units (of one
        campaign by the name it delivered under, or by its id across renames)."""
        rows = [
            r
            for r in self.ads.select(start, end, network)
            if (campaign is None or r.campaign == campaign)
            and (campaign_id is None or r.campaign_id == campaign_id)
        ]
        return {
            "impressions": sum(r.impressions for r in rows),
            "clicks": sum(r.link_clicks for r in rows),
            "spend": sum(r.spend_cents for r in rows) / 100,
        }

    # ------------------------------------------------------------------ sales truth

    def truth_sales(
        self,
        start: dt.date,
        end: dt.date,
        lead_stages: tuple[str, ...] = ("lead", "marketingqualifiedlead", "salesqualifiedlead"),
        window_days: int = 90,
    ) -> dict:
        """Every sales KPI for start..end (business-local dates), from the funnel's events."""
        s = self.sales
        inside = lambda ts: start <= local_date(ts) <= end  # noqa: E731
        norm = lambda email: email.strip().lower()  # noqa: E731
        orders = [
            p for p in s.succeeded() if s.refunded(p) < p.amount
        ]  # fully refunded, returned: no order
        who = lambda p: norm(p.email)  # noqa: E731  customers are people: a guest who opens an account is one
        first_order: dict[str, dt.datetime] = {}
        first_of_person: dict[str, dt.date] = {}
        for p in sorted(orders, key=lambda p: p.created_at):
            first_order.setdefault(who(p), p.created_at)
            first_of_person.setdefault(norm(p.email), local_date(p.created_at))
        in_period = [p for p in orders if inside(p.created_at)]
        customers = {who(p) for p in in_period}
        before = local_midnight(start)
        converted = lambda person, day: (  # noqa: E731
            person in first_of_person
            and day <= first_of_person[person] <= day + dt.timedelta(days=window_days)
        )
        leads = []
        for c in s.contacts:
            dates = [
                at for stage, at in s.stage_dates(c).items() if stage in lead_stages and s.seen(at)
            ]
            if dates and s.seen(c.created_at) and inside(min(dates)):
                leads.append((norm(c.email), local_date(min(dates))))
        calls = [
            (norm(b.invitee_email), local_date(b.start_time))
            for b in s.bookings
            if b.event_type == "intro"
            and inside(b.start_time)
            and b.start_time < s.now
            and s.seen(b.created_at)
            and not s.seen(b.canceled_at)
        ]
        money = sum(p.settled(p.amount) for p in s.charged() if inside(p.created_at))
        money -= sum(
            p.settled(amount)
            for p in s.charged()
            for at, amount in p.refunds
            if s.seen(at) and inside(at)
        )
        # what takes a sale back, on its own date: the bank returning a debit, a dispute (given
        # back when won)
        for p in s.charged():
            for at, sign in ((p.returned_at, -1), (p.disputed_at, -1), (p.dispute_won_at, 1)):
                if s.seen(at) and inside(at):
                    money += sign * p.settled(p.amount)
        revenue = money / 100
        by_product: dict[str, float] = {}
        units: dict[str, int] = {}
        for p in s.succeeded():
            if p.invoice_id and inside(p.created_at):
                for line in p.lines:
                    by_product[line.name] = (
                        by_product.get(line.name, 0) + line.unit_amount * line.quantity / 100
                    )
                    units[line.name] = units.get(line.name, 0) + line.quantity
        won_leads = sum(1 for person, day in leads if converted(person, day))
        won_calls = sum(1 for person, day in calls if converted(person, day))
        return {
            "leads": len(leads),
            "intro_calls": len(calls),
            "new_customers": sum(1 for t in first_order.values() if inside(t)),
            "orders": len(in_period),
            "revenue": revenue,
            "average_order_value": revenue / len(in_period) if in_period else None,
            "lead_conversion_rate": won_leads / len(leads) if leads else None,
            "call_conversion_rate": won_calls / len(calls) if calls else None,
            "orders_per_customer": len(in_period) / len(customers) if customers else None,
            "repeat_customer_rate": (
                sum(1 for c in customers if first_order[c] < before) / len(customers)
                if customers
                else None
            ),
            "sales_by_product": by_product,
            "units_by_product": units,
        }

    def truth_cohort_members(
        self,
        kind: str,
        window_days: int = 90,
        lead_stages: tuple[str, ...] = ("lead", "marketingqualifiedlead", "salesqualifiedlead"),
    ) -> list[tuple[dt.date, int | None]]:
        """Every lead (``kind`` "leads", by lead date) or intro call ("calls", by meeting date) so
        far: (its business-local date, days from it to its person's first order, None when there
        is none within ``window_days``), from the funnel's events."""
        s = self.sales
        norm = lambda email: email.strip().lower()  # noqa: E731
        first_of_person: dict[str, dt.date] = {}
        for p in sorted(
            (p for p in s.succeeded() if s.refunded(p) < p.amount), key=lambda p: p.created_at
        ):
            first_of_person.setdefault(norm(p.email), local_date(p.created_at))
        if kind == "leads":
            members = []
            for c in s.contacts:
                dates = [
                    at
                    for stage, at in s.stage_dates(c).items()
                    if stage in lead_stages and s.seen(at)
                ]
                if dates and s.seen(c.created_at):
                    members.append((norm(c.email), local_date(min(dates))))
        else:
            members = [
                (norm(b.invitee_email), local_date(b.start_time))
                for b in s.bookings
                if b.event_type == "intro"
                and b.start_time < s.now
                and s.seen(b.created_at)
                and not s.seen(b.canceled_at)
            ]
        out: list[tuple[dt.date, int | None]] = []
        for person, day in members:
            days = (first_of_person[person] - day).days if person in first_of_person else None
            out.append((day, days if days is not None and 0 <= days <= window_days else None))
        return out

    def truth_follower_growth_rate(self, start: dt.date, end: dt.date) -> float:
        """Net new followers (follows - unfollows) over the followers at the start."""
        opening = self.instagram.followers(start - dt.timedelta(days=1))
        return (self.instagram.followers(end) - opening) / opening


@lru_cache(maxsize=4)
def get_world(as_of: dt.date, seed: int = 7) -> World:
    """A cached world per (as_of, seed): generation takes about a second."""
    return World(as_of, seed)

"""A seeded fictional business: Studio Lumen, a beauty salon with a webshop and a newsletter.

The world is a list of events generated day by day from ``WORLD_START`` up to ``now`` (the
start of the day after ``as_of``, business-local). Every draw on a given day comes from a
random generator seeded by (seed, day), and the world is always generated from the same
start in the same order, so two worlds with different ``as_of`` agree on every shared day.

The emulated APIs (each platform's ``emulator.py``) serve views of these events; the
``truth_*`` methods compute KPI values straight from the events, without the API path, so
tests can compare the pipeline's numbers with them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import random
from dataclasses import dataclass, field
from functools import lru_cache

from connectors.sandbox.marketing_world import Ads, Instagram, WebTraffic
from connectors.sandbox.sales_world import Sales
from zoneinfo import ZoneInfo

WORLD_START = dt.date(2025, 1, 1)
TIMEZONE = "Europe/Brussels"
TZ = ZoneInfo(TIMEZONE)
UTC = dt.timezone.utc
LIST_ID = "a1b2c3d4e5"
LIST_NAME = "Studio Lumen Newsletter"
COLD_DAYS = 90

# UTC send times; 23:30 and 22:40 UTC fall on the next local day in Brussels.
_SEND_TIMES_UTC = [(8, 0), (12, 15), (17, 30), (23, 30), (22, 40), (6, 5)]


def local_date(ts: dt.datetime) -> dt.date:
    """The business-local date of an aware timestamp."""
    return ts.astimezone(TZ).date()


def local_midnight(day: dt.date) -> dt.datetime:
    """Start of a business-local day, as an aware UTC timestamp."""
    return dt.datetime.combine(day, dt.time(), TZ).astimezone(UTC)


@dataclass
class Member:
    member_id: str
    email: str
    opted_in_at: dt.datetime
    source: str  # "signup" | "import" | "initial"
    p_open: float
    p_click: float
    status: str = "subscribed"
    removed_at: dt.datetime | None = None
    last_changed: dt.datetime | None = None


@dataclass
class Recipient:
    member_id: str
    outcome: str  # "delivered" | "hard" | "soft"
    opens: list[dt.datetime] = field(default_factory=list)
    clicks: list[dt.datetime] = field(default_factory=list)


@dataclass
class Campaign:
    campaign_id: str
    title: str
    subject: str
    send_time: dt.datetime
    recipients: list[Recipient] = field(default_factory=list)
    unsubscribed: int = 0


class World:
    """The business's events up to ``now``; pure data plus truth queries."""

    def __init__(self, as_of: dt.date, seed: int = 7) -> None:
        if as_of < WORLD_START:
            raise ValueError(f"as_of {as_of} is before the sandbox world starts ({WORLD_START})")
        self.seed = seed
        self.as_of = as_of
        self.now = local_midnight(as_of + dt.timedelta(days=1))
        self.members: dict[str, Member] = {}
        self.campaigns: list[Campaign] = []
        # (time, kind, member_id) for subscription changes, in time order
        self.changes: list[tuple[dt.datetime, str, str]] = []
        self._generate()
        self.web = WebTraffic(seed, WORLD_START, as_of)
        self.ads = Ads(seed, WORLD_START, as_of, self.now)
        self.instagram = Instagram(seed, WORLD_START, as_of)
        self.sales = Sales(seed, WORLD_START, as_of, self.now, TZ)

    # ------------------------------------------------------------------ generation

    def _rng(self, *parts: object) -> random.Random:
        digest = hashlib.sha256(":".join(map(str, (self.seed, *parts))).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def _new_member(self, rng: random.Random, at: dt.datetime, source: str) -> Member:
        number = len(self.members) + 1
        email = f"client{number:05d}@example.com"
        member_id = hashlib.md5(email.encode()).hexdigest()
        cold = rng.random() < 0.25
        member = Member(
            member_id=member_id,
            email=email,
            opted_in_at=at,
            source=source,
            p_open=0.01 if cold else rng.uniform(0.2, 0.75),
            p_click=rng.uniform(0.05, 0.3),
            last_changed=at,
        )
        self.members[member_id] = member
        if source != "initial":
            self.changes.append((at, source, member_id))
        return member

    def _remove(self, member_id: str, at: dt.datetime, kind: str) -> None:
        member = self.members[member_id]
        if member.status != "subscribed":
            return
        member.status = "unsubscribed" if kind == "unsub" else "cleaned"
        member.removed_at = at
        member.last_changed = at
        self.changes.append((at, kind, member_id))

    def _generate(self) -> None:
        rng = self._rng("initial")
        before = local_midnight(WORLD_START) - dt.timedelta(days=400)
        for _ in range(1200):
            at = before + dt.timedelta(seconds=rng.randrange(0, 390 * 86400))
            self._new_member(rng, at, "initial")
        pending: list[tuple[dt.datetime, int, str, str]] = []  # (time, seq, kind, member)
        seq = 0
        day = WORLD_START
        while day <= self.as_of:
            start = local_midnight(day)
            end = local_midnight(day + dt.timedelta(days=1))
            rng = self._rng("day", day.isoformat())
            # pending removals (unsubscribes triggered by campaigns) due today
            while pending and pending[0][0] < end:
                at, _, kind, member_id = heapq.heappop(pending)
                self._remove(member_id, at, kind)
            season = 1.0 + 0.35 * (day.month in (3, 4, 5, 11, 12))
            for _ in range(_poisson(rng, 3.2 * season)):
                self._new_member(rng, start + dt.timedelta(seconds=rng.randrange(86400)), "signup")
            if day.day == 1 and day.month in (1, 4, 7, 10):  # quarterly import from the shop
                for _ in range(rng.randrange(15, 40)):
                    self._new_member(rng, start + dt.timedelta(hours=10, seconds=rng.randrange(600)), "import")
            subscribed = [m for m in self.members.values() if m.status == "subscribed" and m.opted_in_at < start]
            for _ in range(_poisson(rng, 1.1)):
                if subscribed:
                    victim = subscribed.pop(rng.randrange(len(subscribed)))
                    self._remove(victim.member_id, start + dt.timedelta(seconds=rng.randrange(86400)), "unsub")
            for campaign in self._campaigns_on(day, rng):
                seq = self._send(campaign, pending, seq)
            day += dt.timedelta(days=1)
        self.changes.sort()

    def _campaigns_on(self, day: dt.date, rng: random.Random) -> list[Campaign]:
        out = []
        weekly = day.weekday() == 1  # Tuesdays (UTC send date)
        promo = day.weekday() == 4 and day.day <= 7  # first Friday
        for kind, flag in (("weekly", weekly), ("promo", promo)):
            if not flag:
                continue
            hour, minute = _SEND_TIMES_UTC[rng.randrange(len(_SEND_TIMES_UTC))]
            send = dt.datetime.combine(day, dt.time(hour, minute), UTC)
            cid = hashlib.sha1(f"{kind}{day}".encode()).hexdigest()[:10]
            title = f"{'Weekly tips' if kind == 'weekly' else 'Promo'} {day.isoformat()}"
            out.append(Campaign(cid, title, f"{title} — Studio Lumen", send))
        return [c for c in out if c.send_time < self.now]

    def _send(self, campaign: Campaign, pending: list, seq: int) -> int:
        self.campaigns.append(campaign)
        rng = self._rng("campaign", campaign.campaign_id)
        quality = rng.uniform(0.8, 1.15)
        for member in self.members.values():
            if member.status != "subscribed" or member.opted_in_at >= campaign.send_time:
                continue
            roll = rng.random()
            if roll < 0.002:
                campaign.recipients.append(Recipient(member.member_id, "hard"))
                heapq.heappush(pending, (campaign.send_time + dt.timedelta(minutes=5), seq, "cleaned", member.member_id))
                seq += 1
                continue
            if roll < 0.008:
                campaign.recipients.append(Recipient(member.member_id, "soft"))
                continue
            rec = Recipient(member.member_id, "delivered")
            campaign.recipients.append(rec)
            if rng.random() < min(0.95, member.p_open * quality):
                # most opens come within a day; a long tail keeps arriving for weeks
                delay = rng.expovariate(1 / 12) if rng.random() < 0.8 else rng.uniform(24, 24 * 28)
                first = campaign.send_time + dt.timedelta(hours=delay)
                rec.opens.append(first)
                if rng.random() < 0.35:
                    rec.opens.append(first + dt.timedelta(hours=rng.uniform(1, 72)))
                if rng.random() < member.p_click:
                    rec.clicks.append(first + dt.timedelta(minutes=rng.uniform(0.5, 30)))
                if rng.random() < 0.004:
                    campaign.unsubscribed += 1
                    heapq.heappush(pending, (first + dt.timedelta(minutes=2), seq, "unsub", member.member_id))
                    seq += 1
        return seq

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
        return sum(1 for at, kind, _ in self.changes if kind in kinds and lo <= at < hi and self.seen(at))

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
            if m.opted_in_at < end and (m.removed_at is None or m.removed_at >= end)
            and local_date(m.opted_in_at) <= day - dt.timedelta(days=COLD_DAYS)
        ]
        if not subscribed:
            return None
        return sum(1 for m in subscribed if m not in opened) / len(subscribed)

    def campaigns_sent(self) -> list[Campaign]:
        return [c for c in self.campaigns if self.seen(c.send_time)]

    # ------------------------------------------------------------------ marketing truth

    def truth_ads(self, start: dt.date, end: dt.date, network: str | None = None,
                  campaign: str | None = None, campaign_id: str | None = None) -> dict[str, float]:
        """Sums over ad rows: impressions, clicks (link clicks), spend in currency units (of one
        campaign by the name it delivered under, or by its id across renames)."""
        rows = [r for r in self.ads.select(start, end, network) if (campaign is None or r.campaign == campaign)
                and (campaign_id is None or r.campaign_id == campaign_id)]
        return {"impressions": sum(r.impressions for r in rows), "clicks": sum(r.link_clicks for r in rows),
                "spend": sum(r.spend_cents for r in rows) / 100}

    # ------------------------------------------------------------------ sales truth

    def truth_sales(self, start: dt.date, end: dt.date,
                    lead_stages: tuple[str, ...] = ("lead", "marketingqualifiedlead", "salesqualifiedlead"),
                    window_days: int = 90) -> dict:
        """Every sales KPI for start..end (business-local dates), from the funnel's events."""
        s = self.sales
        inside = lambda ts: start <= local_date(ts) <= end  # noqa: E731
        norm = lambda email: email.strip().lower()  # noqa: E731
        orders = [p for p in s.succeeded() if s.refunded(p) < p.amount]  # fully refunded, returned: no order
        who = lambda p: norm(p.email)  # noqa: E731  customers are people: a guest who opens an account is one
        first_order: dict[str, dt.datetime] = {}
        first_of_person: dict[str, dt.date] = {}
        for p in sorted(orders, key=lambda p: p.created_at):
            first_order.setdefault(who(p), p.created_at)
            first_of_person.setdefault(norm(p.email), local_date(p.created_at))
        in_period = [p for p in orders if inside(p.created_at)]
        customers = {who(p) for p in in_period}
        before = local_midnight(start)
        converted = lambda person, day: (person in first_of_person  # noqa: E731
                                         and day <= first_of_person[person] <= day + dt.timedelta(days=window_days))
        leads = []
        for c in s.contacts:
            dates = [at for stage, at in s.stage_dates(c).items() if stage in lead_stages and s.seen(at)]
            if dates and s.seen(c.created_at) and inside(min(dates)):
                leads.append((norm(c.email), local_date(min(dates))))
        calls = [(norm(b.invitee_email), local_date(b.start_time)) for b in s.bookings
                 if b.event_type == "intro" and inside(b.start_time) and b.start_time < s.now
                 and s.seen(b.created_at) and not s.seen(b.canceled_at)]
        money = sum(p.settled(p.amount) for p in s.charged() if inside(p.created_at))
        money -= sum(p.settled(amount) for p in s.charged() for at, amount in p.refunds
                     if s.seen(at) and inside(at))
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
                    by_product[line.name] = by_product.get(line.name, 0) + line.unit_amount * line.quantity / 100
                    units[line.name] = units.get(line.name, 0) + line.quantity
        won_leads = sum(1 for person, day in leads if converted(person, day))
        won_calls = sum(1 for person, day in calls if converted(person, day))
        return {
            "leads": len(leads), "intro_calls": len(calls),
            "new_customers": sum(1 for t in first_order.values() if inside(t)),
            "orders": len(in_period), "revenue": revenue,
            "average_order_value": revenue / len(in_period) if in_period else None,
            "lead_conversion_rate": won_leads / len(leads) if leads else None,
            "call_conversion_rate": won_calls / len(calls) if calls else None,
            "orders_per_customer": len(in_period) / len(customers) if customers else None,
            "repeat_customer_rate": (sum(1 for c in customers if first_order[c] < before) / len(customers)
                                     if customers else None),
            "sales_by_product": by_product, "units_by_product": units,
        }

    def truth_cohort_members(self, kind: str, window_days: int = 90,
                             lead_stages: tuple[str, ...] = ("lead", "marketingqualifiedlead", "salesqualifiedlead"),
                             ) -> list[tuple[dt.date, int | None]]:
        """Every lead (``kind`` "leads", by lead date) or intro call ("calls", by meeting date) so
        far: (its business-local date, days from it to its person's first order, None when there
        is none within ``window_days``), from the funnel's events."""
        s = self.sales
        norm = lambda email: email.strip().lower()  # noqa: E731
        first_of_person: dict[str, dt.date] = {}
        for p in sorted((p for p in s.succeeded() if s.refunded(p) < p.amount), key=lambda p: p.created_at):
            first_of_person.setdefault(norm(p.email), local_date(p.created_at))
        if kind == "leads":
            members = []
            for c in s.contacts:
                dates = [at for stage, at in s.stage_dates(c).items() if stage in lead_stages and s.seen(at)]
                if dates and s.seen(c.created_at):
                    members.append((norm(c.email), local_date(min(dates))))
        else:
            members = [(norm(b.invitee_email), local_date(b.start_time)) for b in s.bookings
                       if b.event_type == "intro" and b.start_time < s.now and s.seen(b.created_at)
                       and not s.seen(b.canceled_at)]
        out: list[tuple[dt.date, int | None]] = []
        for person, day in members:
            days = (first_of_person[person] - day).days if person in first_of_person else None
            out.append((day, days if days is not None and 0 <= days <= window_days else None))
        return out

    def truth_follower_growth_rate(self, start: dt.date, end: dt.date) -> float:
        """Net new followers (follows - unfollows) over the followers at the start."""
        opening = self.instagram.followers(start - dt.timedelta(days=1))
        return (self.instagram.followers(end) - opening) / opening


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method; lam is small here.
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@lru_cache(maxsize=4)
def get_world(as_of: dt.date, seed: int = 7) -> World:
    """A cached world per (as_of, seed): generation takes about a second."""
    return World(as_of, seed)

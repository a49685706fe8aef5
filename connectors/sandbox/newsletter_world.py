"""The newsletter's people: Studio Lumen's subscribers, generated day by day (sign-ups, quarterly
imports from the shop, unsubscribes), and the campaigns sent to them with each recipient's opens,
clicks and bounces. Mailchimp's emulator serves them; the World's truth reads them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import random
from dataclasses import dataclass, field

from connectors.sandbox.clock import UTC, WORLD_START, local_midnight
from connectors.sandbox.marketing_world import rng_for

LIST_ID = "a1b2c3d4e5"
LIST_NAME = "Studio Lumen Newsletter"

# UTC send times; 23:30 and 22:40 UTC fall on the next local day in Brussels.
_SEND_TIMES_UTC = [(8, 0), (12, 15), (17, 30), (23, 30), (22, 40), (6, 5)]


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


class Newsletter:
    """The list's members, its campaigns and its subscription changes up to ``now``."""

    def __init__(self, seed: int, as_of: dt.date, now: dt.datetime) -> None:
        self.seed = seed
        self.as_of = as_of
        self.now = now
        self.members: dict[str, Member] = {}
        self.campaigns: list[Campaign] = []
        # (time, kind, member_id) for subscription changes, in time order
        self.changes: list[tuple[dt.datetime, str, str]] = []
        self._generate()

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
        rng = rng_for(self.seed, "initial")
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
            rng = rng_for(self.seed, "day", day.isoformat())
            # pending removals (unsubscribes triggered by campaigns) due today
            while pending and pending[0][0] < end:
                at, _, kind, member_id = heapq.heappop(pending)
                self._remove(member_id, at, kind)
            season = 1.0 + 0.35 * (day.month in (3, 4, 5, 11, 12))
            for _ in range(_poisson(rng, 3.2 * season)):
                self._new_member(rng, start + dt.timedelta(seconds=rng.randrange(86400)), "signup")
            if day.day == 1 and day.month in (1, 4, 7, 10):  # quarterly import from the shop
                for _ in range(rng.randrange(15, 40)):
                    self._new_member(
                        rng, start + dt.timedelta(hours=10, seconds=rng.randrange(600)), "import"
                    )
            subscribed = [
                m
                for m in self.members.values()
                if m.status == "subscribed" and m.opted_in_at < start
            ]
            for _ in range(_poisson(rng, 1.1)):
                if subscribed:
                    victim = subscribed.pop(rng.randrange(len(subscribed)))
                    self._remove(
                        victim.member_id,
                        start + dt.timedelta(seconds=rng.randrange(86400)),
                        "unsub",
                    )
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
        rng = rng_for(self.seed, "campaign", campaign.campaign_id)
        quality = rng.uniform(0.8, 1.15)
        for member in self.members.values():
            if member.status != "subscribed" or member.opted_in_at >= campaign.send_time:
                continue
            roll = rng.random()
            if roll < 0.002:
                campaign.recipients.append(Recipient(member.member_id, "hard"))
                heapq.heappush(
                    pending,
                    (
                        campaign.send_time + dt.timedelta(minutes=5),
                        seq,
                        "cleaned",
                        member.member_id,
                    ),
                )
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
                    heapq.heappush(
                        pending, (first + dt.timedelta(minutes=2), seq, "unsub", member.member_id)
                    )
                    seq += 1
        return seq


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method; lam is small here.
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1

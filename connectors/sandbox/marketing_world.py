"""The salon's website visitors, ad campaigns and Instagram account, day by day.

Same rules as ``world.py``: every draw for a day comes from a generator seeded by (seed,
kind, day), so worlds with different as-of agree on shared days; late-arriving numbers
(ad conversions) carry the time they become known and are hidden until the world's now.
Truth methods compute KPI values from these events directly, not through any API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

CHANNELS = [
    ("Organic Search", 0.38),
    ("Direct", 0.2),
    ("Paid Social", 0.12),
    ("Paid Search", 0.1),
    ("Email", 0.09),
    ("Organic Social", 0.08),
    ("Referral", 0.03),
]


def rng_for(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


@dataclass
class Session:
    user: int
    channel: str
    engaged: bool
    key_event: bool
    new_user: bool


class WebTraffic:
    """Sessions per business-local day; users come back on other days and channels."""

    def __init__(self, seed: int, start: dt.date, as_of: dt.date) -> None:
        self.by_day: dict[dt.date, list[Session]] = {}
        next_user = 1
        returning: list[int] = []
        for day in days(start, as_of):
            rng = rng_for(seed, "web", day)
            season = 1.25 if day.month in (3, 4, 11, 12) else 1.0
            weekend = 0.8 if day.weekday() >= 5 else 1.0
            sessions = []
            for _ in range(int(rng.gauss(140, 15) * season * weekend)):
                if returning and rng.random() < 0.35:
                    user, new = returning[rng.randrange(len(returning))], False
                else:
                    user, new, next_user = next_user, True, next_user + 1
                    returning.append(user)
                channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
                sessions.append(
                    Session(user, channel, rng.random() < 0.62, rng.random() < 0.03, new)
                )
            if len(returning) > 6000:
                del returning[:1000]
            self.by_day[day] = sessions

    def users(self, start: dt.date, end: dt.date, channel: str | None = None) -> int:
        """Distinct users with a session in start..end (from that channel, if given)."""
        seen: set[int] = set()
        for day in days(start, end):
            seen.update(
                s.user for s in self.by_day.get(day, ()) if channel is None or s.channel == channel
            )
        return len(seen)

    def sessions(self, start: dt.date, end: dt.date, channel: str | None = None) -> int:
        return sum(
            1
            for day in days(start, end)
            for s in self.by_day.get(day, ())
            if channel is None or s.channel == channel
        )


@dataclass
class AdDay:
    """One campaign's delivery on one account-local day."""

    network: str
    campaign_id: str
    campaign: str
    day: dt.date
    impressions: int
    reach: int
    clicks: int  # Meta: all clicks; Google: clicks
    link_clicks: int  # Meta: inline link clicks; Google: = clicks
    spend_cents: int
    conversions: list[tuple[dt.datetime, float]] = field(default_factory=list)  # (known at, value)


META_CAMPAIGNS = [
    ("120208000000000001", "Prospecting - Treatments", None),
    ("120208000000000002", "Retargeting - Webshop", None),
    ("120208000000000003", "Spring & Christmas promo", (3, 4, 11, 12)),
    ("120208000000000004", "Herfstactie", (10, 11)),
]
GOOGLE_CAMPAIGNS = [
    ("987654321", "Search - Brand", None),
    ("987654322", "PMax - All products", None),
]
# The owner renames a campaign now and then: (network, campaign id) -> (when, new name). Meta and
# Google Ads report a campaign's current name for every past day, as of the platform's clock.
RENAMES: dict[tuple[str, str], list[tuple[dt.datetime, str]]] = {
    ("meta", "120208000000000004"): [
        (dt.datetime(2026, 10, 18, 9, 30, tzinfo=dt.timezone.utc), "Herfstactie \u2013 Retargeting")
    ],
    ("google", "987654322"): [
        (dt.datetime(2026, 10, 12, 14, 0, tzinfo=dt.timezone.utc), "PMax - Alle producten")
    ],
}


class Ads:
    """Daily delivery of Meta and Google Ads campaigns; conversions keep arriving for weeks."""

    def __init__(self, seed: int, start: dt.date, as_of: dt.date, now: dt.datetime) -> None:
        self.now = now
        self.rows: list[AdDay] = []
        for day in days(start, as_of):
            if day.isocalendar()[1] % 9 == 0:
                continue  # the owner is away: every campaign paused, no delivery at all (no rows)
            for network, campaigns in (("meta", META_CAMPAIGNS), ("google", GOOGLE_CAMPAIGNS)):
                for cid, name, months in campaigns:
                    if months and day.month not in months:
                        continue  # no delivery: the APIs return no row
                    rng = rng_for(seed, "ads", network, cid, day)
                    impressions = max(0, int(rng.gauss(2400 if network == "meta" else 900, 300)))
                    reach = int(impressions / rng.uniform(1.2, 1.8))
                    link_clicks = int(
                        impressions * rng.uniform(0.008, 0.02)
                        if network == "meta"
                        else impressions * rng.uniform(0.03, 0.07)
                    )
                    clicks = link_clicks + (
                        int(link_clicks * rng.uniform(0.2, 0.6)) if network == "meta" else 0
                    )
                    spend = (
                        int(impressions * rng.uniform(0.6, 1.4))
                        if network == "meta"
                        else int(link_clicks * rng.uniform(35, 90))
                    )
                    row = AdDay(
                        network,
                        cid,
                        self._name_on(network, cid, name, day),
                        day,
                        impressions,
                        reach,
                        clicks,
                        link_clicks,
                        spend,
                    )
                    end_of_day = dt.datetime.combine(
                        day + dt.timedelta(days=1), dt.time(), dt.timezone.utc
                    )
                    for _ in range(int(link_clicks * rng.uniform(0.01, 0.05))):
                        row.conversions.append(
                            (
                                end_of_day + dt.timedelta(hours=rng.expovariate(1 / 120)),
                                round(rng.uniform(25, 140), 2),
                            )
                        )
                    self.rows.append(row)

    def name_at(self, row: AdDay, at: dt.datetime) -> str:
        """The campaign's name at ``at`` (what the platforms report for all its days then)."""
        name = next(n for c, n, _ in META_CAMPAIGNS + GOOGLE_CAMPAIGNS if c == row.campaign_id)
        for when, new in RENAMES.get((row.network, row.campaign_id), []):
            if when <= at:
                name = new
        return name

    def known_conversions(self, row: AdDay) -> tuple[int, float]:
        seen = [v for t, v in row.conversions if t < self.now]
        return len(seen), round(sum(seen), 2)

    @staticmethod
    def _name_on(network: str, cid: str, name: str, day: dt.date) -> str:
        # the name the campaign had when it delivered on ``day`` (renames count from the next day)
        for when, new in RENAMES.get((network, cid), []):
            if when.date() < day:
                name = new
        return name

    def select(self, start: dt.date, end: dt.date, network: str | None = None) -> list[AdDay]:
        return [
            r
            for r in self.rows
            if start <= r.day <= end and (network is None or r.network == network)
        ]


class Instagram:
    """Follows and unfollows per day, reach and profile views; followers as a level."""

    def __init__(self, seed: int, start: dt.date, as_of: dt.date) -> None:
        self.start_followers = 1480
        self.daily: dict[dt.date, dict[str, int]] = {}
        for day in days(start, as_of):
            rng = rng_for(seed, "instagram", day)
            boost = 2 if day.weekday() in (1, 4) else 1
            self.daily[day] = {
                "follows": rng.randrange(2, 9) * boost,
                "unfollows": rng.randrange(0, 4),
                "reach": rng.randrange(300, 900) * boost,
                "profile_views": rng.randrange(20, 70),
            }
            if (
                rng.random() < 0.05
            ):  # a quiet day: nobody followed (a day without unfollows is common)
                self.daily[day]["follows"] = 0

    def followers(self, day: dt.date) -> int:
        """Followers at the end of a business-local day."""
        return self.start_followers + sum(
            v["follows"] - v["unfollows"] for d, v in self.daily.items() if d <= day
        )

    def new_followers(self, start: dt.date, end: dt.date) -> int:
        return sum(v["follows"] for d, v in self.daily.items() if start <= d <= end)

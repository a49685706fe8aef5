"""Mailchimp Marketing API v3 emulation (docs/PLATFORMS.md#mailchimp and #sandbox-fidelity).

Speaks the real wire format (emulator_wire.py): Basic auth with the API key as password,
problem+json errors with ``X-Request-Id`` (= ``instance``), ``count`` default 10 and cap 1000 with
``offset`` and ``total_items``, ``fields``/``exclude_fields`` dot-path projection, ``_links``
everywhere; the members' export is emulator_members.py. Here: the lists, list rates on a 0-100 scale
and report rates 0-1, growth-history ``subscribed`` as a month-end stock, list activity limited to
the previous 180 days, newest first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from connectors.mailchimp.emulator_members import MembersExport
from connectors.mailchimp.emulator_wire import API_KEY, LINKS, iso, parse_ts, problem
from connectors.sandbox.faults import renaming, rewriting
from connectors.sandbox.server import ApiError, ApiServer, Request, Response
from connectors.sandbox.world import LIST_ID, LIST_NAME, WORLD_START, World, local_date


class MailchimpEmulator(MembersExport):
    """Views of the world as Mailchimp would serve them."""

    def __init__(self, world: World, audience: int = 0) -> None:
        """``audience``: that many more subscribed members after the world's own, made up from
        their number alone (for benchmarks: a list of 1,000,000 without a world that size)."""
        self.world = world
        self.audience = audience
        self._pages: dict[tuple[Any, ...], Response] = {}
        self.server = ApiServer("mailchimp", problem)
        self._activity = self._daily_activity()
        r = self.server.route
        r("GET", r"/3\.0/ping")(self.ping)
        r("GET", r"/3\.0/lists")(self.lists)
        r("GET", r"/3\.0/lists/(?P<list_id>[^/]+)")(self.one_list)
        r("GET", r"/3\.0/lists/(?P<list_id>[^/]+)/activity")(self.activity)
        r("GET", r"/3\.0/lists/(?P<list_id>[^/]+)/growth-history")(self.growth_history)
        r("GET", r"/3\.0/lists/(?P<list_id>[^/]+)/members")(self.members)
        r("GET", r"/3\.0/reports")(self.reports)
        r("GET", r"/3\.0/reports/(?P<campaign_id>[^/]+)")(self.one_report)
        r("GET", r"/3\.0/reports/(?P<campaign_id>[^/]+)/open-details")(self.open_details)

    def ping(self, req: Request) -> Response:
        self._auth(req)
        return Response(200, {"health_status": "Everything's Chimpy!"})

    # ------------------------------------------------------------------ lists

    def _list_doc(self) -> dict[str, Any]:
        w = self.world
        members = list(w.members.values())
        sent = w.campaigns_sent()
        delivered = sum(1 for c in sent for r in c.recipients if r.outcome == "delivered")
        opens = sum(1 for c in sent for r in c.recipients if any(w.seen(t) for t in r.opens))
        clicks = sum(1 for c in sent for r in c.recipients if any(w.seen(t) for t in r.clicks))
        removed = [m for m in members if m.removed_at is not None and w.seen(m.removed_at)]
        return {
            "id": LIST_ID,
            "web_id": 123456,
            "name": LIST_NAME,
            "contact": {"company": "Studio Lumen", "city": "Gent", "country": "BE"},
            "date_created": "2023-02-01T09:00:00+00:00",
            "visibility": "pub",
            "double_optin": False,
            "stats": {
                "member_count": w.subscribed_at(w.now),
                "unsubscribe_count": sum(1 for m in removed if m.status == "unsubscribed"),
                "cleaned_count": sum(1 for m in removed if m.status == "cleaned"),
                "campaign_count": len(sent),
                "campaign_last_sent": iso(sent[-1].send_time) if sent else "",
                # list-level rates are percentages on a 0-100 scale
                "open_rate": round(100 * opens / delivered, 3) if delivered else 0,
                "click_rate": round(100 * clicks / delivered, 3) if delivered else 0,
                "avg_sub_rate": 41,
                "avg_unsub_rate": 2,
                "target_sub_rate": 9,
            },
            "_links": LINKS,
        }

    def lists(self, req: Request) -> Response:
        self._auth(req)
        items, total = self._page(req, [self._list_doc()])
        return self._reply(
            req,
            {
                "lists": items,
                "total_items": total,
                "constraints": {
                    "may_create": True,
                    "max_instances": 5,
                    "current_total_instances": 1,
                },
            },
        )

    def one_list(self, req: Request) -> Response:
        self._auth(req)
        self._list_id(req)
        return self._reply(req, self._list_doc())

    # ------------------------------------------------------------------ activity

    def _daily_activity(self) -> dict[dt.date, dict[str, int]]:
        w = self.world
        days: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        kind_field = {
            "signup": "subs",
            "import": "other_adds",
            "unsub": "unsubs",
            "cleaned": "other_removes",
        }
        for at, kind, _ in w.changes:
            if w.seen(at):
                days[local_date(at)][kind_field[kind]] += 1
        openers: dict[dt.date, set[str]] = defaultdict(set)
        clickers: dict[dt.date, set[str]] = defaultdict(set)
        for c in w.campaigns_sent():
            day = local_date(c.send_time)
            for r in c.recipients:
                days[day]["emails_sent"] += 1
                if r.outcome in ("hard", "soft"):
                    days[day][f"{r.outcome}_bounce"] += 1
                for t in r.opens:
                    if w.seen(t):
                        openers[local_date(t)].add(r.member_id)
                for t in r.clicks:
                    if w.seen(t):
                        clickers[local_date(t)].add(r.member_id)
        for day, who in openers.items():
            days[day]["unique_opens"] = len(who)
        for day, who in clickers.items():
            days[day]["recipient_clicks"] = len(who)
        return days

    def activity(self, req: Request) -> Response:
        self._auth(req)
        self._list_id(req)
        fields = (
            "emails_sent",
            "unique_opens",
            "recipient_clicks",
            "hard_bounce",
            "soft_bounce",
            "subs",
            "unsubs",
            "other_adds",
            "other_removes",
        )
        # the previous 180 days up to the world's last complete day, newest first
        items = []
        for back in range(180):
            day = self.world.as_of - dt.timedelta(days=back)
            if day >= WORLD_START:
                counts = self._activity.get(day, {})
                items.append({"day": day.isoformat(), **{f: counts.get(f, 0) for f in fields}})
        page, total = self._page(req, items)
        return self._reply(req, {"list_id": LIST_ID, "activity": page, "total_items": total})

    # ------------------------------------------------------------------ growth history

    def growth_history(self, req: Request) -> Response:
        self._auth(req)
        self._list_id(req)
        w = self.world
        flows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for at, kind, _ in w.changes:
            if w.seen(at):
                flows[local_date(at).strftime("%Y-%m")][kind] += 1
        items = []
        month = WORLD_START
        while month <= w.as_of:
            nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            end = min(nxt - dt.timedelta(days=1), w.as_of)
            key = month.strftime("%Y-%m")
            items.append(
                {
                    "list_id": LIST_ID,
                    "month": key,
                    "existing": 0,
                    "imports": 0,
                    "optins": 0,
                    "subscribed": w.truth_subscribers(
                        end
                    ),  # a stock: subscribed at month end (or now)
                    "unsubscribed": flows[key]["unsub"],
                    "reconfirm": 0,
                    "cleaned": flows[key]["cleaned"],
                    "pending": 0,
                    "deleted": 0,
                    "transactional": 0,
                    "_links": LINKS,
                }
            )
            month = nxt
        items.reverse()
        page, total = self._page(req, items)
        return self._reply(req, {"list_id": LIST_ID, "history": page, "total_items": total})

    # ------------------------------------------------------------------ reports

    def _report_doc(self, c) -> dict[str, Any]:
        w = self.world
        hard = sum(r.outcome == "hard" for r in c.recipients)
        soft = sum(r.outcome == "soft" for r in c.recipients)
        opens = [t for r in c.recipients for t in r.opens if w.seen(t)]
        openers = sum(1 for r in c.recipients if any(w.seen(t) for t in r.opens))
        clicks = [t for r in c.recipients for t in r.clicks if w.seen(t)]
        clickers = sum(1 for r in c.recipients if any(w.seen(t) for t in r.clicks))
        delivered = len(c.recipients) - hard - soft
        return {
            "id": c.campaign_id,
            "campaign_title": c.title,
            "type": "regular",
            "list_id": LIST_ID,
            "list_is_active": True,
            "list_name": LIST_NAME,
            "subject_line": c.subject,
            "preview_text": "",
            "emails_sent": len(c.recipients),
            "abuse_reports": 0,
            "unsubscribed": c.unsubscribed,
            "send_time": iso(c.send_time),
            "bounces": {"hard_bounces": hard, "soft_bounces": soft, "syntax_errors": 0},
            "forwards": {"forwards_count": 0, "forwards_opens": 0},
            "opens": {
                "opens_total": len(opens),
                "unique_opens": openers,
                "open_rate": round(openers / delivered, 4) if delivered else 0,  # 0-1 here
                "last_open": iso(max(opens)) if opens else "",
            },
            "clicks": {
                "clicks_total": len(clicks),
                "unique_clicks": clickers,
                "unique_subscriber_clicks": clickers,
                "click_rate": round(clickers / delivered, 4) if delivered else 0,
                "last_click": iso(max(clicks)) if clicks else "",
            },
            "list_stats": {
                "sub_rate": 41.2,
                "unsub_rate": 2.1,
                "open_rate": 27.9,
                "click_rate": 3.6,
            },
            "timeseries": [],
            "timewarp": [],
            "_links": LINKS,
        }

    def reports(self, req: Request) -> Response:
        self._auth(req)
        since = req.query.get("since_send_time")
        before = req.query.get("before_send_time")
        lo = parse_ts(since) if since else None
        hi = parse_ts(before) if before else None
        chosen = [
            c
            for c in self.world.campaigns_sent()
            if (lo is None or c.send_time >= lo) and (hi is None or c.send_time < hi)
        ]
        chosen.sort(key=lambda c: c.send_time, reverse=True)
        page, total = self._page(req, chosen)
        return self._reply(
            req, {"reports": [self._report_doc(c) for c in page], "total_items": total}
        )

    def _campaign(self, req: Request):
        cid = req.match.group("campaign_id") if req.match else ""
        for c in self.world.campaigns_sent():
            if c.campaign_id == cid:
                return c
        raise ApiError(404, "The requested resource could not be found.")

    def one_report(self, req: Request) -> Response:
        self._auth(req)
        return self._reply(req, self._report_doc(self._campaign(req)))

    def open_details(self, req: Request) -> Response:
        self._auth(req)
        c = self._campaign(req)
        since = parse_ts(req.query["since"]) if req.query.get("since") else None
        w = self.world
        members = []
        for r in c.recipients:
            opens = [t for t in r.opens if w.seen(t) and (since is None or t >= since)]
            if not opens:
                continue
            m = w.members[r.member_id]
            members.append(
                {
                    "campaign_id": c.campaign_id,
                    "list_id": LIST_ID,
                    "list_is_active": True,
                    "contact_status": m.status,
                    "email_id": m.member_id,
                    "email_address": m.email,
                    "merge_fields": {},
                    "vip": False,
                    "opens_count": len(opens),
                    "proxy_excluded_opens_count": len(opens),
                    "opens": [{"timestamp": iso(t), "is_proxy_open": False} for t in opens],
                    "_links": LINKS,
                }
            )
        page, total = self._page(req, members)
        return self._reply(
            req,
            {
                "members": page,
                "campaign_id": c.campaign_id,
                "total_items": total,
                "total_opens": sum(m["opens_count"] for m in members),
                "total_proxy_excluded_opens": 0,
            },
        )


# what the sandbox reads (connectors/sandbox/__init__.py)
CREDENTIALS = {"mailchimp": {"api_key": API_KEY}}
BASE_PATH = "/3.0"  # the connector's base_url ends with the API version


def emulate(world: World, audience: int = 0, **_options: Any) -> MailchimpEmulator:
    return MailchimpEmulator(world, audience)


# where tests/test_faults.py injects its faults: the data stream, its requests (a path regex), the
# records of an answer, a numeric field and the key field of a record ("" when there is none), and
# its own answer for a window without data (docs/PLATFORMS.md#empty-answers); a field renamed, an
# empty page mid-paging (every key: connectors/sandbox/faults.py)
FAULT_TARGETS = {
    "mailchimp": dict(
        stream="members",
        path=r"/lists/[^/]+/members",
        records=lambda b: b["members"],
        typed_field="last_changed",
        key_field="id",
        empty=lambda body, req: {"members": [], "total_items": 0},
        renamed=(renaming(lambda b: b["members"], "status", "member_status"), "status"),
        # the second of three pages of members empty, total_items counting on
        empty_page=dict(
            transform=rewriting(lambda b: b.update(members=[])), query={"offset": "1000"}
        ),
    )
}

"""The members' export of Mailchimp's emulator (``GET /3.0/lists/{list_id}/members``): the world's
members as Mailchimp lists them, and for benchmarks an audience of made-up subscribers after them,
each page made once and then served as made.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from connectors.mailchimp.emulator_wire import LINKS, Endpoints, iso
from connectors.sandbox.server import Request, Response
from connectors.sandbox.world import LIST_ID, World


class MembersExport(Endpoints):
    """The members endpoint; ``audience``: that many more subscribed members
    after the world's own."""

    world: World
    audience: int
    _pages: dict[tuple[Any, ...], Response]

    def members(self, req: Request) -> Response:
        self._auth(req)
        self._list_id(req)
        if self.audience:  # a benchmark's big list: each page made once, then served as made
            key = tuple(
                req.query.get(k) for k in ("status", "count", "offset", "fields", "exclude_fields")
            )
            if key not in self._pages:
                answer = self._members(req)
                self._pages[key] = Response(answer.status, raw=json.dumps(answer.body).encode())
            return self._pages[key]
        return self._members(req)

    def _members(self, req: Request) -> Response:
        w = self.world
        status = req.query.get("status")
        items = []
        for m in w.members.values():
            if not w.seen(m.opted_in_at):
                continue
            current = (
                m.status if m.removed_at is not None and w.seen(m.removed_at) else "subscribed"
            )
            if status and current != status:
                continue
            items.append(
                {
                    "id": m.member_id,
                    "email_address": m.email,
                    "unique_email_id": m.member_id[:10],
                    "status": current,
                    "list_id": LIST_ID,
                    "member_rating": 2,
                    # Mailchimp sends empty strings, not nulls, for unknown timestamps
                    "timestamp_signup": "" if m.source == "initial" else iso(m.opted_in_at),
                    "timestamp_opt": "" if m.source == "initial" else iso(m.opted_in_at),
                    "last_changed": iso(m.removed_at if current != "subscribed" else m.opted_in_at),
                    "stats": {
                        "avg_open_rate": round(m.p_open, 2),
                        "avg_click_rate": round(m.p_open * m.p_click, 2),
                    },
                    "_links": LINKS,
                }
            )
        if self.audience and status in (None, "subscribed"):
            return self._with_audience(req, items)
        page, total = self._page(req, items)
        return self._reply(req, {"members": page, "list_id": LIST_ID, "total_items": total})

    def _with_audience(self, req: Request, items: list[dict[str, Any]]) -> Response:
        """A page of the world's members followed by ``audience`` made-up ones."""
        count, offset = self._bounds(req)
        page = items[offset : offset + count]
        first = max(0, offset - len(items))
        last = min(self.audience, offset + count - len(items))
        since = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        for n in range(first, last):
            at = iso(since + dt.timedelta(minutes=n))
            page.append(
                {
                    "id": f"bench{n:09d}",
                    "email_address": f"member{n}@example.org",
                    "unique_email_id": f"u{n:09d}",
                    "status": "subscribed",
                    "list_id": LIST_ID,
                    "member_rating": 2,
                    "timestamp_signup": at,
                    "timestamp_opt": at,
                    "last_changed": at,
                    "stats": {"avg_open_rate": 0.3, "avg_click_rate": 0.05},
                    "_links": LINKS,
                }
            )
        return self._reply(
            req, {"members": page, "list_id": LIST_ID, "total_items": len(items) + self.audience}
        )

"""Mailchimp's wire format in the sandbox, shared by every endpoint of its emulator: problem+json
errors with ``X-Request-Id``, Basic (or Bearer) auth with the API key, ``count``/``offset`` paging
(default 10, cap 1000), ``fields``/``exclude_fields`` dot-path projection and ``_links`` on every
answer, timestamps as Mailchimp writes them (docs/PLATFORMS.md#mailchimp).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from connectors.sandbox.server import ApiError, Request, Response
from connectors.sandbox.world import LIST_ID, UTC

API_KEY = "sandboxkey0000-us6"
LINKS = [{"rel": "self", "href": "https://us6.api.mailchimp.com/3.0/", "method": "GET"}]


def problem(status: int, detail: str) -> Response:
    titles = {
        400: "Invalid Resource",
        401: "API Key Invalid",
        403: "Forbidden",
        404: "Resource Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    if status == 429:
        detail = "You have exceeded the limit of 10 simultaneous connections."
    instance = str(uuid.uuid4())
    return Response(
        status,
        {
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": titles.get(status, "Error"),
            "status": status,
            "detail": detail,
            "instance": instance,
        },
        headers={
            "X-Request-Id": instance,
            "Server": "openresty",
            "Link": (
                "<https://us6.api.mailchimp.com/schema/3.0/Definitions/ProblemDetailDocument.json>"
                '; rel="describedBy"'
            ),
        },
        content_type="application/problem+json; charset=utf-8",
    )


def iso(ts: dt.datetime | None) -> str:
    return "" if ts is None else ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_ts(value: str) -> dt.datetime:
    try:
        ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"Invalid timestamp: {value}") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def project(doc: Any, fields: str | None, exclude: str | None) -> Any:
    """Apply Mailchimp's ``fields`` / ``exclude_fields`` dot-path projection."""
    if fields:
        doc = _keep(doc, [f.split(".") for f in fields.split(",") if f])
    for path in (exclude or "").split(","):
        if path:
            _drop(doc, path.split("."))
    return doc


def _keep(node: Any, paths: list[list[str]]) -> Any:
    if isinstance(node, list):
        return [_keep(item, paths) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        sub = [p[1:] for p in paths if p[0] == key]
        if not sub:
            continue
        out[key] = value if any(not p for p in sub) else _keep(value, [p for p in sub if p])
    return out


def _drop(node: Any, path: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _drop(item, path)
    elif isinstance(node, dict) and path[0] in node:
        if len(path) == 1:
            del node[path[0]]
        else:
            _drop(node[path[0]], path[1:])


class Endpoints:
    """What every endpoint of the emulator does first and last: auth, the list's id, paging,
    projection."""

    def _auth(self, req: Request) -> None:
        header = req.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                _, _, key = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                key = ""
            if key == API_KEY:
                return None
        elif header.startswith("Bearer ") and header[7:] == API_KEY:
            return None
        detail = (
            "Your request did not include an API key."
            if not header
            else "Your API key may be invalid, or you've attempted to access the wrong datacenter."
        )
        raise ApiError(401, detail)

    def _list_id(self, req: Request) -> None:
        if req.match and req.match.group("list_id") != LIST_ID:
            raise ApiError(404, "The requested resource could not be found.")

    @staticmethod
    def _bounds(req: Request) -> tuple[int, int]:
        """``count`` (at most 1000) and ``offset`` of a paged request."""
        try:
            count = int(req.query.get("count", 10))
            offset = int(req.query.get("offset", 0))
        except ValueError:
            raise ApiError(400, "count and offset must be integers") from None
        return max(0, min(count, 1000)), offset

    def _page(self, req: Request, items: list[Any]) -> tuple[list[Any], int]:
        count, offset = self._bounds(req)
        return items[offset : offset + count], len(items)

    def _reply(self, req: Request, doc: dict[str, Any]) -> Response:
        doc["_links"] = LINKS
        return Response(200, project(doc, req.query.get("fields"), req.query.get("exclude_fields")))

"""Small paginators: prepare the first request, read a response, prepare the next.

Every paginator refuses to go back to a position it has already seen: a repeating cursor
is a :class:`~connectors.errors.FatalError`, never an endless loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from connectors.errors import FatalError


def dig(body: Any, path: Sequence[str]) -> Any:
    """The value at a dotted path in a JSON body, or None."""
    node = body
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def records_at(
    body: Any, path: str, *, platform: str, stream: str | None, where: str | None = None
) -> list[Any]:
    """The list of records at ``path`` (dotted) in a page's body;
    a page without that list is malformed.

    A well-formed empty page (``{"data": [], ...}``) is an empty window and returns ``[]``; an
    answer that lacks the list altogether (``{}``, an error envelope with 200, a renamed key) says
    nothing about the window, so it is a :class:`FatalError` naming what is missing: the load fails
    and the rows already stored stay, instead of being replaced with nothing.
    """
    items = dig(body, path.split("."))
    if not isinstance(items, list):
        got = (
            "an empty object"
            if body == {}
            else f"a {type(body).__name__}"
            if not isinstance(body, Mapping)
            else f"keys {', '.join(sorted(map(str, body))[:6])}"
        )
        raise FatalError(
            f"malformed answer: no '{path}' list of records (got {got}); nothing was loaded",
            platform=platform,
            stream=stream,
            path=where,
            hint="the platform answered 200 without its data (an outage or a changed API); "
            "the stored rows are kept; run the sync again, and report it if it persists",
        )
    return items


P = TypeVar("P", bound="Paginator")


class Paginator:
    """Base class: subclasses set ``has_next`` and put their position into params."""

    platform = "api"
    stream: str | None = None

    def __init__(self) -> None:
        self.has_next = True
        self._seen: set[Any] = set()

    def for_stream(self: P, platform: str, stream: str) -> P:
        """Name the platform and stream in this paginator's errors."""
        self.platform, self.stream = platform, stream
        return self

    def _cut_short(self, what: str) -> FatalError:
        return FatalError(
            f"the API returned {what}: paging ended before the data did",
            platform=self.platform,
            stream=self.stream,
            hint="the data changed while it was paged or the API is inconsistent; "
            "run the sync again (nothing of this window was stored)",
        )

    def first_params(self) -> dict[str, Any]:
        """Parameters of the first request."""
        return {}

    def update(self, body: Mapping[str, Any], items: Sequence[Any]) -> None:
        """Read a response body (and its records) and decide on the next request."""
        raise NotImplementedError

    def next_params(self) -> dict[str, Any]:
        """Parameters for the next request; only valid while ``has_next``."""
        raise NotImplementedError

    def _advance(self, position: Any) -> None:
        if position in self._seen:
            raise FatalError(
                f"the API returned a page position it already returned ({position!r})",
                platform=self.platform,
                stream=self.stream,
                hint="the platform's paging is inconsistent; report it with the request id",
            )
        self._seen.add(position)


class OffsetPaginator(Paginator):
    """``count`` + ``offset`` (Mailchimp). The last page is the one with fewer than
    ``count`` items, or the one reaching ``total_items`` (whichever comes first)."""

    def __init__(
        self,
        page_size: int,
        *,
        limit_param: str = "count",
        offset_param: str = "offset",
        total_key: str | None = "total_items",
    ) -> None:
        super().__init__()
        self.page_size = page_size
        self.limit_param, self.offset_param, self.total_key = limit_param, offset_param, total_key
        self.offset = 0

    def first_params(self) -> dict[str, Any]:
        return {self.limit_param: self.page_size, self.offset_param: 0}

    def update(self, body: Mapping[str, Any], items: Sequence[Any]) -> None:
        total = body.get(self.total_key) if self.total_key else None
        if not items and total is not None and self.offset < int(total):
            raise self._cut_short(f"an empty page at offset {self.offset} of {total} items")
        self.offset += len(items)
        self.has_next = len(items) >= self.page_size and (total is None or self.offset < int(total))

    def next_params(self) -> dict[str, Any]:
        return {self.limit_param: self.page_size, self.offset_param: self.offset}


class CursorPaginator(Paginator):
    """``starting_after`` = id of the last record, while ``has_more`` (Stripe)."""

    def __init__(
        self,
        page_size: int,
        *,
        cursor_param: str = "starting_after",
        id_key: str = "id",
        more_key: str = "has_more",
    ) -> None:
        super().__init__()
        self.page_size, self.cursor_param = page_size, cursor_param
        self.id_key, self.more_key = id_key, more_key
        self.cursor: str | None = None

    def first_params(self) -> dict[str, Any]:
        return {"limit": self.page_size}

    def update(self, body: Mapping[str, Any], items: Sequence[Any]) -> None:
        if body.get(self.more_key) and not items:
            raise self._cut_short("an empty page that says more follow")
        self.has_next = bool(body.get(self.more_key))
        if self.has_next:
            self.cursor = items[-1][self.id_key]
            self._advance(self.cursor)

    def next_params(self) -> dict[str, Any]:
        return {"limit": self.page_size, self.cursor_param: self.cursor}


class PageTokenPaginator(Paginator):
    """A token from the body (dotted path) goes back as a parameter (Calendly, HubSpot, Graph)."""

    def __init__(
        self,
        token_path: str,
        param: str,
        *,
        page_size: int | None = None,
        size_param: str = "count",
    ) -> None:
        super().__init__()
        self.token_path, self.param = token_path.split("."), param
        self.page_size, self.size_param = page_size, size_param
        self.token: Any = None

    def first_params(self) -> dict[str, Any]:
        return {self.size_param: self.page_size} if self.page_size else {}

    def update(self, body: Mapping[str, Any], items: Sequence[Any]) -> None:
        node = self.token = dig(body, self.token_path)
        self.has_next = bool(node)
        if self.has_next:
            self._advance(node)

    def next_params(self) -> dict[str, Any]:
        return {**self.first_params(), self.param: self.token}


class NextUrlPaginator(Paginator):
    """Follow a full ``next`` URL from the body (Graph API ``paging.next``)."""

    def __init__(self, next_path: str = "paging.next") -> None:
        super().__init__()
        self.next_path = next_path.split(".")
        self.next_url: str | None = None

    def update(self, body: Mapping[str, Any], items: Sequence[Any]) -> None:
        node = self.next_url = dig(body, self.next_path)
        self.has_next = bool(node)
        if self.has_next:
            self._advance(node)

    def next_params(self) -> dict[str, Any]:
        return {"url": self.next_url}


PAGINATORS: dict[str, type[Paginator]] = {
    "offset": OffsetPaginator,
    "cursor": CursorPaginator,
    "page_token": PageTokenPaginator,
    "next_url": NextUrlPaginator,
}


def get_paginator(name: str, **kwargs: Any) -> Paginator:
    """Build a paginator by name; an unknown name lists the known ones."""
    try:
        cls = PAGINATORS[name]
    except KeyError:
        raise ValueError(
            f"unknown paginator {name!r}; known: {', '.join(sorted(PAGINATORS))}"
        ) from None
    return cls(**kwargs)

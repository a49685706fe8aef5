import pytest

from connectors.errors import FatalError
from connectors.pagination import (
    CursorPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageTokenPaginator,
    get_paginator,
)


def test_offset_stops_on_a_short_page_even_if_total_says_more():
    p = OffsetPaginator(2)
    assert p.first_params() == {"count": 2, "offset": 0}
    p.update({"total_items": 10}, [1, 2])
    assert p.has_next and p.next_params() == {"count": 2, "offset": 2}
    p.update({"total_items": 10}, [3])
    assert not p.has_next


def test_offset_stops_when_total_reached():
    p = OffsetPaginator(2)
    p.update({"total_items": 2}, [1, 2])
    assert not p.has_next


def test_cursor_uses_last_id_and_refuses_a_repeating_cursor():
    p = CursorPaginator(2)
    p.update({"has_more": True}, [{"id": "a"}, {"id": "b"}])
    assert p.next_params() == {"limit": 2, "starting_after": "b"}
    with pytest.raises(FatalError, match="already returned"):
        p.update({"has_more": True}, [{"id": "a"}, {"id": "b"}])


def test_cursor_stops_without_has_more():
    p = CursorPaginator(2)
    p.update({"has_more": False}, [{"id": "a"}])
    assert not p.has_next


def test_page_token_reads_a_dotted_path_and_refuses_repeats():
    p = PageTokenPaginator("pagination.next_page_token", "page_token", page_size=100)
    p.update({"pagination": {"next_page_token": "t1"}}, [1])
    assert p.next_params() == {"count": 100, "page_token": "t1"}
    with pytest.raises(FatalError):
        p.update({"pagination": {"next_page_token": "t1"}}, [1])
    q = PageTokenPaginator("pagination.next_page_token", "page_token")
    q.update({"pagination": {"next_page_token": None}}, [1])
    assert not q.has_next


def test_next_url_follows_until_omitted():
    p = NextUrlPaginator()
    p.update({"paging": {"next": "http://x/2"}}, [1])
    assert p.next_params() == {"url": "http://x/2"}
    p.update({"paging": {"cursors": {}}}, [1])
    assert not p.has_next


def test_registry_names_the_known_paginators():
    assert isinstance(get_paginator("offset", page_size=5), OffsetPaginator)
    with pytest.raises(ValueError, match="known: cursor, next_url, offset, page_token"):
        get_paginator("links")

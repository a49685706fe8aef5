"""What a platform's emulator declares about its faults (``FAULT_TARGETS`` in its ``emulator.py``),
and the answer rewrites those declarations share.

``FAULT_TARGETS`` maps each source the emulator serves to where the fault tests
(tests/test_faults.py, tests/test_fault_cases.py) inject, and how this platform's answers look when
they go wrong:

- ``stream``, ``path``: the stream loaded, and a regex of its data requests
(not token or list lookups);
- ``records``: body -> the records of an answer (schema drift is injected there); ``typed_field``: a
  numeric field of a record (a changed type); ``key_field``: the field of the record's key;
- ``empty``: (body, request) -> the platform's own answer for a window without data
  (docs/PLATFORMS.md#empty-answers);
- ``expired``: how the platform says a credential expired (``inject`` arguments; default a 401);
- ``throttled``: the headers of its 429 without ``Retry-After`` (Stripe says
``Stripe-Should-Retry``);
- ``renamed``: (a rewrite renaming a field every record must have, the field the error then names);
- ``empty_page``: ``inject`` arguments making a page in the middle of paging come back without its
  records while the answer still says more follow (its ``query`` picks the page);
- ``onwards``: (body, request, base URL) -> None: makes a page's cursor point onwards, so that an
  answer replayed page after page repeats a cursor.

A key left out means the case does not apply to the platform (no records to drift, no cursor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Rewrite = Callable[[Any, Any], Any]  # (body, request) -> the body the server sends instead


def rewriting(change: Callable[[Any], object]) -> Rewrite:
    """A rewrite applying ``change`` to the answer's body in place (a body-less answer as it is)."""

    def rewrite(body: Any, req: Any) -> Any:
        if body is not None:
            change(body)
        return body

    return rewrite


def renaming(records: Callable[[Any], list[dict[str, Any]]], old: str, new: str) -> Rewrite:
    """A rewrite renaming ``old`` to ``new`` in every record ``records(body)`` gives."""

    def rename(body: Any) -> None:
        for record in records(body):
            if old in record:
                record[new] = record.pop(old)

    return rewriting(rename)

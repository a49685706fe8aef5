"""Named fault points: places in the code where a test can make a failure happen at an exact moment.

A point does nothing unless a test arms it. Tests use them to prove a guarantee at the moment it
matters (between a load's delete and its insert, half-way through a publish's copy) instead of
hoping that a kill at a random time lands there. The points in the code:

- ``load:after_delete``: a load's old rows are deleted, the new ones not yet inserted
- ``load:after_insert``: the new rows are in, the record in ``raw._loads`` not yet written
- ``load:before_commit``: rows and record written, the transaction not yet committed
- ``publish:during_copy``: half of the new copy is written beside the analysts' copy
- ``publish:before_rename``: the new copy is complete and flushed, not yet renamed into place

Arm a point in this process with :func:`armed` (any callable; it usually raises), or in a child
process with the env var ``KPI_FAULT=<point>`` (the process ends at once with ``os._exit(86)``,
like a kill: no ``finally``, no rollback, no clean-up).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

ENV = "KPI_FAULT"
EXIT_CODE = 86  # the exit status of a process ended by an armed KPI_FAULT
POINTS = (
    "load:after_delete",
    "load:after_insert",
    "load:before_commit",
    "publish:during_copy",
    "publish:before_rename",
)
_armed: dict[str, Callable[[], None]] = {}


def fault_point(name: str) -> None:
    """Do nothing, unless a test armed ``name``: then run its callable,
    or end the process at once."""
    assert name in POINTS, f"unknown fault point {name!r}"
    action = _armed.get(name)
    if action is not None:
        action()
    if os.environ.get(ENV) == name:
        os._exit(EXIT_CODE)  # a kill: nothing after this point runs, not even a rollback


@contextlib.contextmanager
def armed(name: str, action: Callable[[], None]) -> Iterator[None]:
    """Within the block, reaching the point ``name`` runs ``action`` (e.g. one that raises)."""
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}; known: {', '.join(POINTS)}")
    _armed[name] = action
    try:
        yield
    finally:
        _armed.pop(name, None)

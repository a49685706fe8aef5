"""Changes over a tiny base: when a percentage says nothing, and what to show instead.

The rule: README.md#what-the-numbers-mean, "Changes over a tiny base".

A change is shown as a percentage only over a base worth dividing by. Against a previous (or
last year's) value of zero it is "new"; against a base that is tiny it is "from N" (N is the base,
the current value stands beside it), never "+800%". The base of a change is tiny when

- it is 0 (``new``): nothing to divide by (0 -> 0 is no change to show);
- it is an event count (a count KPI shown whole: leads, calls, impressions, followers) below
  :data:`HANDFUL` events: one lead more over 1 is +100%, noise not news;
- its magnitude is below :data:`TINY_SHARE` of the current value's, for any KPI (counts, money,
  ratios): a rise of more than 400%, like the demo's ad impressions on 6 December against
  1-6 November, when the ads were paused most of those days (8,886 -> 54,106: "from 8,886", not
  +508.9%), or a conversion rate from 1% to 9%.

Equal values read "= 0.0%" over any base.

A ratio KPI over a small denominator (a conversion rate of 1 lead) is not detected: the snapshot
keeps the ratio, not its denominator. A fall is never over a tiny base unless the base itself is
(a count under a handful): from 9 to 1 is an honest -89%.

Every output (terminal, Markdown, HTML, the review and the JSON's ``change_basis``) goes through
:func:`compare`; the snapshot's ``change_pct`` stays the plain arithmetic for analysts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kpi_pipeline.kpi.catalog import KpiDef

HANDFUL = 5  # an event count below this is too small a base for a percentage
TINY_SHARE = 0.2  # a base under a fifth of the current value: a rise of more than 400%
Basis = Literal["pct", "new", "tiny_base"]


@dataclass(frozen=True)
class Change:
    """The current value against a base (the previous period's, or last year's).

    ``basis``: ``pct`` (show ``pct``), ``new`` (the base was 0), ``tiny_base`` (show "from
    base"), or None (nothing to compare: a value is missing, or both are 0).
    """

    actual: float | None
    base: float | None
    pct: float | None
    basis: Basis | None

    @property
    def delta(self) -> float | None:
        """actual - base: its sign says up or down whatever the basis."""
        return None if self.basis is None else self.actual - self.base  # type: ignore[operator]


def is_event_count(kpi: KpiDef) -> bool:
    """A KPI that counts events or people (shown whole), not a quotient like orders per customer."""
    return kpi.unit == "count" and kpi.shown_decimals == 0 and kpi.aggregation != "ratio"


def basis_of(kpi: KpiDef, actual: float | None, base: float | None) -> Basis | None:
    """How a change from ``base`` to ``actual`` reads (the rule in the module docstring)."""
    if actual is None or base is None:
        return None
    if base == 0:
        return "new" if actual != 0 else None
    if actual == base:
        return "pct"  # "= 0.0%" reads right over any base
    if is_event_count(kpi) and abs(base) < HANDFUL:
        return "tiny_base"
    if abs(base) < TINY_SHARE * abs(actual):
        return "tiny_base"
    return "pct"


def compare(kpi: KpiDef, actual: float | None, base: float | None, pct: float | None) -> Change:
    """The change of ``kpi`` from ``base`` to ``actual``; ``pct`` is the relative change as the
    snapshot has it (``change_pct``), so the shown percentage is the stored one."""
    basis = basis_of(kpi, actual, base)
    if basis == "pct" and pct is None:
        basis = None  # a row without its change (written by hand): nothing to show
    return Change(actual, base, pct, basis)


def mover_rank(change: Change) -> tuple[int, float]:
    """Sort key of the review's biggest movers, the biggest first: every change over a real base by
    the size of its percentage, then the tiny-base ones (which a percentage would put first), by
    how much of the larger of the two values moved (from 0: all of it; 1 -> 9: 8/9)."""
    if change.basis == "pct":
        return (0, -abs(change.pct))  # type: ignore[arg-type]
    delta = abs(change.delta or 0.0)
    return (1, -delta / max(abs(change.actual or 0.0), abs(change.base or 0.0)))

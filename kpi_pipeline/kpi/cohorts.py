"""Maturing conversion cohorts, projected by the cohorts that matured.

The rule: README.md#what-the-numbers-mean, "Conversions are cohorts".

A member of a conversion cohort (a lead on its lead date, an intro call on its meeting date)
converts when its person's first order comes within ``conversion_window_days`` of that date.
Data is complete through as-of, so a member of day d has been followed for ``as_of - d`` days
(its age) and is *matured* once its age reaches the window. A period's cohort is maturing while
its youngest member is: as_of < period_end + window.

The method is per member, so it is exact for every grain (a week whose members are 3 to 9 days
old, a year whose January has long matured):

* the curve ``reached[a]`` = conversions by age a / final conversions, over every matured member
  since history_start (a conversion at age k is one whose first order came k days after);
* a maturing cohort whose members have ages a_1..a_n should by now show
  share = mean(reached[min(a_i, window)]) of its final conversions, so
  projected = to-date / share, which is to-date x final / to-date at the same ages.

Without a matured conversion to learn from, or when the cohort is too young to have reached any
share yet, there is no projection: the scorecard reads ``too_early``, never ``missed``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpi_pipeline.config.settings import Settings
    from kpi_pipeline.warehouse.database import Warehouse

MEMBERS_TABLE = "kpis.kpi_cohort_members"


def is_maturing(period_end: dt.date, as_of: dt.date, window_days: int) -> bool:
    """True while the youngest member of a period ending on ``period_end`` is inside its window."""
    return as_of < period_end + dt.timedelta(days=window_days)


@dataclass(frozen=True)
class Cohorts:
    """What the conversion cohorts of one business look like as of ``as_of``.

    Attributes:
        converted_by: per KPI, the conversions of matured members by age 0..window days (absent
            when no matured member converted: nothing to learn from); the last is the final count.
        members: per KPI, the number of cohort members per member day.
    """

    as_of: dt.date
    window_days: int
    converted_by: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    members: Mapping[str, Mapping[dt.date, int]] = field(default_factory=dict)

    @property
    def reached(self) -> dict[str, tuple[float, ...]]:
        """Per KPI, the share of final conversions reached by age 0..window days (the curve)."""
        return {k: tuple(c / counts[-1] for c in counts) for k, counts in self.converted_by.items()}

    def share(self, kpi_id: str, start: dt.date, end: dt.date) -> float | None:
        """Share of its final conversions the cohort start..end should show as of as-of.

        None when there is no matured conversion to learn from or no member yet.
        """
        counts, days = self.converted_by.get(kpi_id), self.members.get(kpi_id, {})
        if counts is None:
            return None
        last = min(end, self.as_of)
        weights = [
            (n, counts[min((self.as_of - d).days, self.window_days)])
            for d, n in days.items()
            if start <= d <= last
        ]
        total = sum(n for n, _ in weights)
        # whole numbers up to one division: the same share whatever order the rows came in
        return sum(n * due for n, due in weights) / (total * counts[-1]) if total else None

    def factor(self, kpi_id: str, start: dt.date, end: dt.date) -> float | None:
        """final / to-date for the cohort start..end at its members' ages
        (projected = actual x factor).

        None when it cannot be projected yet: no matured cohort, or none of its conversions are
        due yet at these ages.
        """
        share = self.share(kpi_id, start, end)
        return 1 / share if share else None


def cohorts_from_rows(
    rows: Iterable[tuple[str, dt.date, int | None, int]],
    as_of: dt.date,
    window_days: int,
    since: dt.date,
) -> Cohorts:
    """Build the curves from ``(kpi_id, day, conversion_days, members)`` rows (kpi_cohort_members).

    Args:
        as_of: data is complete through this day; later days are ignored.
        since: history_start: members before it are not learned from (their orders before it
            were not loaded, so a later order could pass for a first one).
    """
    members: dict[str, dict[dt.date, int]] = {}
    by_age: dict[str, list[int]] = {}
    matured_through = as_of - dt.timedelta(
        days=window_days
    )  # not is_maturing(day, as_of, window_days)
    for kpi_id, day, conversion_days, count in rows:
        if day > as_of:
            continue
        members.setdefault(kpi_id, {})
        members[kpi_id][day] = members[kpi_id].get(day, 0) + int(count)
        if (
            conversion_days is not None
            and since <= day <= matured_through
            and 0 <= conversion_days <= window_days
        ):
            by_age.setdefault(kpi_id, [0] * (window_days + 1))[int(conversion_days)] += int(count)
    converted_by: dict[str, tuple[int, ...]] = {}
    for kpi_id, counts in by_age.items():
        running, cumulative = 0, []
        for count in counts:
            running += count
            cumulative.append(running)
        converted_by[kpi_id] = tuple(cumulative)
    return Cohorts(as_of, window_days, converted_by, members)


def read_cohorts(wh: Warehouse, settings: Settings, as_of: dt.date) -> Cohorts:
    """The cohorts of this business from the warehouse (none before the model was first built)."""
    rows: list = []
    if wh.table_exists(MEMBERS_TABLE):
        rows = wh.query(
            "select kpi_id, day, conversion_days, "
            f"members from {MEMBERS_TABLE} where business_id = ?",
            [settings.business_id],
        )
    return cohorts_from_rows(rows, as_of, settings.conversion_window_days, settings.history_start)

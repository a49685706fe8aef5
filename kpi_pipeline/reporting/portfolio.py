"""The portfolio view: one row per business for the coach, who needs a call first.

Each row reads that business's own published copy (never another's): per domain the KPIs on track,
at risk and off track in the current period of the grain (while the current period is too early to
judge, the last closed period's KPIs achieved and missed, and the row says so), the KPIs off track
two periods running, and how far each source's data is behind. Sorted by who needs a call: a
business that cannot be read (bad kpi.yaml, never synced) first, then the most KPIs off track twice
running, the most off track (or missed) now, the most sources behind, the most at risk.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
from babel.dates import format_date
from rich import box
from rich.console import Console
from rich.table import Table

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.coverage import LOADED_THROUGH_SQL, MANUAL_THROUGH_SQL, through_from_loads
from kpi_pipeline.kpi.periods import label, period_start
from kpi_pipeline.reporting.html import environment
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.moment import too_early_to_judge
from kpi_pipeline.sources.windows import today

DOMAINS = ("marketing", "sales", "production", "customer_service", "hr")
GOOD, RISK, BAD = ("on_track", "achieved"), ("at_risk",), ("off_track", "missed")
DECISIVE = (*GOOD, *RISK, *BAD)
CLOSED = ("achieved", "missed")
WIDTH = 120  # the terminal table's columns


@dataclass
class Freshness:
    source: str
    through: str | None  # the last day the source covered, None: never
    days_behind: int | None  # days between that and the business's yesterday


@dataclass
class BusinessRow:
    slug: str
    business: str
    problem: str | None = None  # why the business could not be read
    as_of: str | None = None
    period: str | None = None  # the period counted: the current one, or the last closed one
    counts: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # domain -> on_track/at_risk/off_track; for a closed period achieved/missed
    current_period: str | None = None  # the period as_of falls in
    closed: bool = False  # counts are of the last closed period: the current one is too early
    final: bool | None = None  # with closed: every KPI counted is final (its data will not change)
    period_name: str | None = None  # "November 2026 (closed; December 2026 too early)"
    demo: bool = False  # a sandbox business (kpi.yaml's demo: true)
    off_track_twice: list[str] = field(
        default_factory=list
    )  # KPI labels, off track two periods running
    freshness: list[Freshness] = field(default_factory=list)
    scorecard: str | None = None

    def total(self, kind: str) -> int:
        return sum(c.get(kind, 0) for c in self.counts.values())

    @property
    def behind(self) -> list[Freshness]:
        return [f for f in self.freshness if f.days_behind is None or f.days_behind > 0]

    def urgency(self) -> tuple:
        return (
            self.problem is None,
            -len(self.off_track_twice),
            -self.total("off_track") - self.total("missed"),
            -len(self.behind),
            -self.total("at_risk"),
            self.slug,
        )


def judged_period(
    snaps: pd.DataFrame, grain: str, start: dt.date, week_start: str
) -> tuple[dt.date, bool]:
    """The period the portfolio counts: the current one (``start``), unless it is too early to
    judge (most KPIs too early, as in the first days of a month: the first screen's rule,
    :func:`~kpi_pipeline.reporting.moment.too_early_to_judge`) and the period before it
    has closed verdicts (achieved, missed); then that closed period. Returns (its start, whether it
    is the closed one)."""
    if not too_early_to_judge(snaps[snaps["period_start"] == start]["status"]):
        return start, False
    previous = period_start(grain, start - dt.timedelta(days=1), week_start)
    before = snaps[snaps["period_start"] == previous]
    return (previous, True) if before["status"].isin(CLOSED).any() else (start, False)


def business_row(settings: Settings, grain: str, asked: dt.date | None = None) -> BusinessRow:
    """The row of one business, from its published copy only. Its sources are behind by the days
    between what they covered and the report's as-of: ``asked`` (--as-of, env KPI_AS_OF), else
    yesterday by the platforms' clock (env KPI_TODAY, else the wall clock: a business whose sync
    stopped shows behind), but for a sandbox business its own as-of (a back-dated demo's clock)."""
    slug = settings.slug or settings.business_id
    row = BusinessRow(
        slug,
        settings.business,
        scorecard=str(settings.reports_dir / "scorecard.html"),
        demo=settings.demo,
    )
    path = settings.published_path
    if not path.exists():
        row.problem = "never synced: no published copy yet"
        return row
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            snaps = con.execute(
                "select s.kpi_id, s.grain, s.period_start, s.status, s.is_final, s.as_of, "
                "s.computed_at, "
                "c.domain, c.label from snapshots.kpi_snapshots s join kpis.catalog c using "
                "(business_id, kpi_id) where s.business_id = ? and s.grain = ?",
                [settings.business_id, grain],
            ).df()
            # raw.manual__metrics exists only where the CSV is configured
            # (docs/ARCHITECTURE.md#a-business-runs-only-its-own-models)
            manual = (
                dict(con.execute(MANUAL_THROUGH_SQL, [settings.business_id]).fetchall())
                if "manual" in settings.enabled_sources()
                else {}
            )
            covered = through_from_loads(
                con.execute(LOADED_THROUGH_SQL, [settings.business_id]).fetchall(), settings, manual
            )
    except duckdb.Error as err:
        row.problem = f"published copy unreadable: {str(err).splitlines()[0]}"
        return row
    if snaps.empty:
        row.problem = "no snapshots yet"
        return row
    as_of = pd.Timestamp(snaps.sort_values(["computed_at", "as_of"]).iloc[-1]["as_of"]).date()
    start = period_start(grain, as_of, settings.week_start)
    snaps["period_start"] = pd.to_datetime(snaps["period_start"]).dt.date
    shown, closed = judged_period(snaps, grain, start, settings.week_start)
    row.as_of, row.period = str(as_of), label(grain, shown, settings.week_start)
    row.current_period, row.closed = label(grain, start, settings.week_start), closed
    counted = snaps[snaps["period_start"] == shown]
    kinds = (
        {"achieved": ("achieved",), "missed": ("missed",)}
        if closed
        else {"on_track": GOOD, "at_risk": RISK, "off_track": BAD}
    )
    for domain in DOMAINS:
        mine = counted[counted["domain"] == domain]
        if not mine.empty:
            row.counts[domain] = {k: int(mine["status"].isin(v).sum()) for k, v in kinds.items()}
    if closed:
        judged = counted[counted["status"].isin(CLOSED)]
        row.final = bool(judged["is_final"].fillna(False).all())
    names = Formatter("en", settings.currency)
    current = names.period(grain, start, row.current_period)
    if grain in ("month", "quarter") and start.year == shown.year:
        current = current.removesuffix(f" {start.year}")  # "December", "Q4": the year is said
    row.period_name = names.period(grain, shown, row.period) + (
        f" ({'closed' if row.final else 'closed, not final yet'}; {current} too early)"
        if closed
        else " (to date)"
    )
    for _kpi_id, periods in snaps[
        snaps["status"].isin(DECISIVE) & (snaps["period_start"] <= start)
    ].groupby("kpi_id"):
        last_two = periods.sort_values("period_start", ascending=False)["status"].head(2).tolist()
        if len(last_two) == 2 and all(s in BAD for s in last_two):
            row.off_track_twice.append(str(periods["label"].iloc[0]))
    yesterday = asked or (as_of if settings.demo else settings.default_as_of(today(settings)))
    for source in settings.enabled_sources():
        through = (
            min(covered[source], as_of, yesterday) if covered.get(source) else None
        )  # windows may run ahead
        row.freshness.append(
            Freshness(
                source,
                str(through) if through else None,
                (yesterday - through).days if through else None,
            )
        )
    return row


def portfolio_rows(
    settings: dict[str, Settings], broken: dict[str, str], grain: str, asked: dt.date | None = None
) -> list[BusinessRow]:
    rows = [business_row(s, grain, asked) for s in settings.values()]
    rows += [BusinessRow(slug, slug, problem=why) for slug, why in broken.items()]
    return sorted(rows, key=BusinessRow.urgency)


# ---------------------------------------------------------------------------- output


def _counts(row: BusinessRow, domain: str) -> str:
    c = row.counts.get(domain)
    if not c:
        return "-"
    if row.closed:  # the legend above the table names them
        return f"{c['achieved']}/{c['missed']}"
    return f"{c['on_track']}/{c['at_risk']}/{c['off_track']}"


def period_cell(row: BusinessRow, grain: str) -> str:
    """The table's short period: "Sep 2026 closed" (not final yet), "Sep 2026 final", "Oct 2026 to
    date"; the legend above the table says each in full, once."""
    if not row.period:
        return ""
    short = row.period
    if grain == "month":
        short = format_date(dt.date.fromisoformat(f"{row.period}-01"), "LLL y", locale="en")
    elif grain == "quarter":
        short = " ".join(reversed(row.period.split("-")))  # 2026-Q3: "Q3 2026"
    return f"{short} {('final' if row.final else 'closed') if row.closed else 'to date'}"


def period_legend(rows: list[BusinessRow], grain: str) -> list[str]:
    """Each short period cell in full, once: "Period: September 2026 (closed, not final yet;
    October too early)" when every business shows the same one."""
    full = {period_cell(r, grain): r.period_name for r in rows if r.period_name}
    if len(full) == 1:
        return [f"Period: {name}" for name in full.values()]
    return [f"{cell}: {name}" for cell, name in full.items()]


def _names(labels: list[str], shown: int = 2) -> str:
    if not labels:
        return "-"
    more = f" +{len(labels) - shown} more" if len(labels) > shown else ""
    return f"{len(labels)}: " + ", ".join(labels[:shown]) + more


def _behind(row: BusinessRow) -> str:
    return (
        ", ".join(
            f"{f.source} {'never' if f.days_behind is None else f'{f.days_behind}d'}"
            for f in row.behind
        )
        or "all current"
    )


def demo_note(rows: list[BusinessRow]) -> str | None:
    """The demo banner (as on a business's scorecard) when the businesses are sandbox ones; when
    only some are, it names them."""
    demo = [r.slug for r in rows if r.demo]
    if not demo:
        return None
    if len(demo) == len(rows):
        return Formatter("en", "EUR").t("demo_banner")
    return f"Demo data: {', '.join(demo)} show the built-in sandbox's numbers, not their accounts."


def portfolio_table(rows: list[BusinessRow], grain: str) -> str:
    """The terminal view (plain text, rich's table): per domain on track / at risk / off track, the
    KPIs off track twice running, the sources behind."""
    used = [d for d in DOMAINS if any(d in r.counts for r in rows)]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in (
        "business",
        "period",
        *(d.replace("customer_service", "service") for d in used),
        "off track twice",
        "behind",
    ):
        wraps = name in ("off track twice", "behind")  # the rest stays on the business's line
        table.add_column(
            name,
            justify="left" if wraps or name in ("business", "period") else "right",
            overflow="fold",
            no_wrap=not wraps,
        )
    for r in rows:
        if r.problem is not None:
            table.add_row(r.slug, "", *[""] * len(used), "! see below", "")
        else:
            table.add_row(
                r.slug,
                period_cell(r, grain),
                *(_counts(r, d) for d in used),
                _names(r.off_track_twice),
                _behind(r),
            )
    console = Console(file=io.StringIO(), width=WIDTH, no_color=True, highlight=False, emoji=False)
    with console.capture() as captured:
        console.print(
            f"Portfolio: {len(rows)} business{'es' if len(rows) != 1 else ''}, who needs a call "
            f"first: per domain the {grain} to date, on track / at risk / off track\n"
            "(while it is too early to judge, the last closed one: achieved / missed)"
        )
        if demo_note(rows):
            console.print(demo_note(rows))
        for line in period_legend(rows, grain):
            console.print(line)
        console.print(table)
        for r in rows:
            if r.problem is not None:  # a sentence: under the table, not folded into a column
                console.print(f"! {r.slug}: {r.problem}")
    return "\n".join(line.rstrip() for line in captured.get().rstrip().splitlines())


def portfolio_json(rows: list[BusinessRow], grain: str) -> str:
    return json.dumps(
        {"grain": grain, "businesses": [asdict(r) for r in rows]}, indent=2, default=str
    )


def portfolio_html(rows: list[BusinessRow], grain: str, version: str, output: Path | None) -> str:
    """One self-contained page; each business links to its own scorecard
    (relative to ``output``)."""

    def link(row: BusinessRow) -> str | None:
        if not row.scorecard or not Path(row.scorecard).exists():
            return None
        return os.path.relpath(row.scorecard, (output or Path.cwd() / "x").resolve().parent)

    used = [d for d in DOMAINS if any(d in r.counts for r in rows)]
    return (
        environment()
        .get_template("portfolio.html.j2")
        .render(
            rows=rows,
            grain=grain,
            domains=used,
            link=link,
            behind=_behind,
            version=version,
            demo=demo_note(rows),
            f=Formatter("en", "EUR"),
            made=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        )
    )

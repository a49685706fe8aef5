"""The scorecard in a terminal: one table per domain, status in colour on a terminal (rich), the
same text without escape codes when piped or written to a file."""

from __future__ import annotations

import io
from typing import TextIO

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from kpi_pipeline.reporting.change import Change
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.model import Card, Scorecard
from kpi_pipeline.reporting.moment import (
    Moment,
    closed_line,
    current_line,
    headline,
    reason,
    verdicts,
    year_title,
)

STYLE = {
    "on_track": "bold green",
    "achieved": "bold green",
    "at_risk": "bold yellow",
    "off_track": "bold red",
    "missed": "bold red",
}
MARK = {"on_track": "✓", "achieved": "✓", "at_risk": "!", "off_track": "✗", "missed": "✗"}
NAME_MIN_WIDTH = 36  # the KPI column: as wide as the longest name, a no-data reason wraps in it


def _change(card: Card, change: Change, fmt: Formatter) -> Text:
    good = card.good(change)
    style = "" if good is None else ("green" if good else "red")
    return Text(fmt.compared(change, card.kpi, card.decimals), style=style)


def _target(card: Card, fmt: Formatter) -> str:
    if card.target is None:
        return fmt.DASH
    return fmt.target(card.target, card.kpi, card.decimals)


def tables(card: Scorecard, fmt: Formatter, plain: bool) -> list[object]:
    """Renderables: a title, then per view a summary line and a table per domain."""
    title = f"{card.business} · {fmt.t('scorecard')} · {fmt.t('as_of', date=fmt.date(card.as_of))}"
    out: list[object] = [Text(title, style="bold")]
    if card.demo:
        out.append(Text(fmt.t("demo_banner"), style="yellow"))
    stale = [
        f"{fmt.source(s)}: {fmt.freshness(d, card.as_of)}"
        for s, d in card.freshness.items()
        if d is None or d < card.as_of
    ]
    if stale:
        out.append(Text("; ".join(stale), style="red"))
    if card.moment is not None:
        out += _moment(card.moment, fmt)
    for view in card.views:
        out.append(Text(""))
        heading = fmt.view_title(view.grain, view.start, view.period)
        out.append(Text.assemble((heading, "bold"), ": ", fmt.summary(view.counts())))
        if not view.sections:
            out.append(Text(fmt.t("no_kpis")))
        name_width = max([NAME_MIN_WIDTH] + [len(c.kpi.label_in(fmt.language)) for c in view.cards])
        for section in view.sections:
            table = Table(
                title=f"{fmt.domain(section.domain)} ({fmt.summary(section.counts())})",
                title_justify="left",
                title_style="bold",
                box=box.SIMPLE if plain else box.SIMPLE_HEAD,
                pad_edge=False,
                show_edge=False,
            )
            columns: tuple[tuple[str, JustifyMethod], ...] = (
                ("kpi", "left"),
                ("actual", "right"),
                ("target", "right"),
                ("status", "left"),
                ("projected", "right"),
                ("vs_previous", "right"),
                ("vs_last_year", "right"),
            )
            for column, justify in columns:  # a no-data reason wraps within the KPIs' names
                table.add_column(
                    fmt.t(column),
                    justify=justify,
                    no_wrap=column != "kpi",
                    max_width=name_width if column == "kpi" else None,
                )
            for c in section.cards:
                unit, digits = c.kpi.unit, c.decimals
                status = Text(
                    f"{MARK.get(c.status, '·')} {fmt.status(c.status)}",
                    style=STYLE.get(c.status, "dim"),
                )
                name = Text(c.kpi.label_in(fmt.language))
                if c.reason:
                    name.append(f"\n{fmt.reason(c.reason)}", style="dim")
                projected = (
                    fmt.value(c.projected, unit, digits)
                    if not c.is_closed
                    else fmt.t("final")
                    if c.is_final
                    else fmt.t("closed")
                )
                table.add_row(
                    name,
                    fmt.value(c.actual, unit, digits),
                    _target(c, fmt),
                    status,
                    projected,
                    _change(c, c.vs_previous, fmt),
                    _change(c, c.vs_last_year, fmt),
                )
            out.append(table)
    return out


def _moment(m: Moment, fmt: Formatter) -> list[Text]:
    """The first screen (reporting.moment): the closed period's verdicts first while the current
    one is too early, else the current one's summary first; the year; what to act on first."""
    out = [Text("")]
    if not m.closed_first:
        out.append(Text(current_line(m, fmt), style="bold"))
    if m.closed is not None:
        out.append(Text(closed_line(m, fmt), style="bold"))
        for status in ("missed", "achieved") if m.closed_first else ():
            names = [c.kpi.label_in(fmt.language) for c in verdicts(m.closed) if c.status == status]
            if names:
                line = f"  {MARK[status]} {fmt.status(status)}: {', '.join(names)}"
                out.append(Text(line, style=STYLE[status]))
    out.append(Text(year_title(m, fmt), style="bold"))
    out += [Text(f"  {headline(c, fmt)}") for c in m.headlines] or [
        Text(f"  {fmt.t('moment_no_year')}", style="dim")
    ]
    out.append(Text(fmt.t("moment_actions_h"), style="bold"))
    out += [
        Text(f"  {n}. {a.card.kpi.label_in(fmt.language)}: {reason(a.card, fmt)}")
        for n, a in enumerate(m.actions, 1)
    ] or [Text(f"  {fmt.t('moment_no_actions')}", style="dim")]
    return out


def render_text(
    card: Scorecard, fmt: Formatter, file: TextIO | None = None, *, colour: bool | None = None
) -> str:
    """Print to ``file`` (a terminal gets colour) or, without a file, return the plain text."""
    is_tty = (
        bool(colour)
        if colour is not None
        else (file is not None and getattr(file, "isatty", lambda: False)())
    )
    console = Console(
        file=file if is_tty and file is not None else io.StringIO(),
        force_terminal=is_tty,
        no_color=not is_tty,
        highlight=False,
        emoji=False,
        width=None if is_tty else 160,
        soft_wrap=False,
    )
    if is_tty:
        for item in tables(card, fmt, plain=False):
            console.print(item)
        return ""
    with console.capture() as captured:
        for item in tables(card, fmt, plain=True):
            console.print(item)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n"
    if file is None:
        return text
    file.write(text)
    return ""

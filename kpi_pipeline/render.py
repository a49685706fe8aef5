"""The scorecard as text, markdown, HTML or JSON (values from APIs are escaped in HTML)."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from typing import Any, Sequence

import pandas as pd

from kpi_pipeline.config import Settings
from kpi_pipeline.periods import label, period_start

COLUMNS = ("KPI", "Period", "Actual", "Target", "Projected", "Status")
STATUS_MARK = {"on_track": "on track", "achieved": "achieved", "at_risk": "at risk", "off_track": "OFF TRACK",
               "missed": "MISSED", "too_early": "too early", "no_target": "no target", "no_data": "no data"}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt(value: Any, unit: str, currency: str = "EUR") -> str:
    """A value for people: counts with separators, ratios as %, money with its currency."""
    if _missing(value):
        return "-"
    value = float(value)
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "currency":
        return f"{currency} {value:,.2f}"
    if abs(value - round(value)) < 1e-9 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def scorecard_rows(snapshots: pd.DataFrame, settings: Settings, as_of: dt.date,
                   grains: Sequence[str] = ("month", "quarter"), period: str | None = None) -> list[dict[str, Any]]:
    """Rows of the scorecard for the period containing as-of per grain (or one given period)."""
    kpis = {k.id: k for k in settings.kpis()}
    out = []
    for grain in grains:
        if period is not None:
            from kpi_pipeline.periods import parse_label

            start = parse_label(grain, period, settings.week_start)
        else:
            start = period_start(grain, as_of, settings.week_start)
        part = snapshots[(snapshots["grain"] == grain)
                         & (pd.to_datetime(snapshots["period_start"]).dt.date == start)]
        for kpi_id, kpi in kpis.items():
            match = part[part["kpi_id"] == kpi_id]
            if match.empty:
                continue
            row = match.iloc[0]
            out.append({
                "kpi_id": kpi_id, "label": kpi.label_in(settings.language), "domain": kpi.domain,
                "unit": kpi.unit, "grain": grain, "period": label(grain, start, settings.week_start),
                "actual": None if _missing(row["actual"]) else float(row["actual"]),
                "target": None if _missing(row["target"]) else float(row["target"]),
                "projected": None if _missing(row["projected"]) else float(row["projected"]),
                "previous_actual": None if _missing(row["previous_actual"]) else float(row["previous_actual"]),
                "status": row["status"], "is_closed": bool(row["is_closed"]), "is_final": bool(row["is_final"]),
            })
    return out


def _cells(row: dict[str, Any], settings: Settings) -> list[str]:
    unit = row["unit"]
    return [row["label"], row["period"], fmt(row["actual"], unit, settings.currency),
            fmt(row["target"], unit, settings.currency), fmt(row["projected"], unit, settings.currency),
            STATUS_MARK.get(row["status"], row["status"])]


def text_table(rows: list[dict[str, Any]], settings: Settings, as_of: dt.date) -> str:
    body = [_cells(r, settings) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(COLUMNS)]
    right = {2, 3, 4}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    head = f"{settings.business} - scorecard as of {as_of}"
    if not body:
        return head + "\n(no KPI values yet: run `kpi sync`)"
    return "\n".join([head, line(COLUMNS), line(["-" * w for w in widths]), *(line(b) for b in body)])


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!:{}()])")


def md_escape(text: str) -> str:
    """Text from kpi.yaml or a platform, safe in a Markdown table cell (Dagster's UI renders it):
    no emphasis, code, links, HTML or new cells; entities stay text."""
    text = " ".join(str(text).split())  # a line break would end the table row
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


STATUS_ICON = {"on_track": "🟢", "achieved": "🟢", "at_risk": "🟠", "off_track": "🔴", "missed": "🔴"}


def status_summary(rows: list[dict[str, Any]]) -> str:
    """'2 off track · 1 at risk · 9 on track': the worst first."""
    order = ["off_track", "missed", "at_risk", "on_track", "achieved", "too_early", "no_target", "no_data"]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in order}
    return " · ".join(f"{n} {STATUS_MARK[s].lower()}" for s, n in counts.items() if n)


def markdown_table(rows: list[dict[str, Any]], settings: Settings) -> str:
    """The scorecard for Dagster's UI: a one-line summary, then a table whose status has a colour."""
    esc = md_escape
    lines = [f"**{status_summary(rows)}**" if rows else "*no KPI has a snapshot yet*", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [esc(c) for c in _cells(r, settings)]
        cells[-1] = f"{STATUS_ICON.get(r['status'], '⚪')} {cells[-1]}"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def html_page(rows: list[dict[str, Any]], settings: Settings, as_of: dt.date) -> str:
    colors = {"on_track": "#1b7f3b", "achieved": "#1b7f3b", "at_risk": "#b26a00", "off_track": "#b3261e",
              "missed": "#b3261e"}
    body = []
    for r in rows:
        cells = _cells(r, settings)
        color = colors.get(r["status"], "#555")
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells[:-1])
        body.append(f'<tr>{tds}<td style="color:{color};font-weight:600">{html.escape(cells[-1])}</td></tr>')
    title = html.escape(f"{settings.business} - scorecard as of {as_of}")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    return (f"<!doctype html><html lang=\"{settings.language}\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
            "td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}"
            "td:nth-child(3),td:nth-child(4),td:nth-child(5){text-align:right}</style></head>"
            f"<body><h1>{title}</h1><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            "</body></html>\n")


def json_doc(rows: list[dict[str, Any]], settings: Settings, as_of: dt.date) -> str:
    return json.dumps({"business": settings.business, "as_of": as_of.isoformat(), "kpis": rows}, indent=2)


def render(fmt_name: str, rows: list[dict[str, Any]], settings: Settings, as_of: dt.date) -> str:
    if fmt_name == "table":
        return text_table(rows, settings, as_of)
    if fmt_name == "markdown":
        return markdown_table(rows, settings)
    if fmt_name == "html":
        return html_page(rows, settings, as_of)
    if fmt_name == "json":
        return json_doc(rows, settings, as_of)
    raise ValueError(f"unknown format {fmt_name!r}; known: table, markdown, html, json")

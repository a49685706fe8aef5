"""The scorecard in Markdown (Dagster's UI renders it): per view a summary, a table per domain.

Every text from kpi.yaml or a platform goes through :func:`md_escape`.
"""

from __future__ import annotations

import re

from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.model import Scorecard

STATUS_ICON = {
    "on_track": "🟢",
    "achieved": "🟢",
    "at_risk": "🟠",
    "off_track": "🔴",
    "missed": "🔴",
}
_MD_SPECIAL = re.compile(
    r"([\\`*_\[\]<>|#~:])"
)  # no link, image, code, emphasis, HTML, cell, autolink


def md_escape(text: str) -> str:
    """Text from kpi.yaml or a platform, safe in a Markdown table cell (Dagster's UI renders it):
    no emphasis, code, links, HTML or new cells; entities stay text."""
    text = " ".join(str(text).split())  # a line break would end the table row
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def markdown(card: Scorecard, fmt: Formatter) -> str:
    """Per view a summary line, then a table per domain whose status has a colour."""
    heads = [
        fmt.t(k)
        for k in ("kpi", "actual", "target", "projected", "status", "vs_previous", "vs_last_year")
    ]
    lines: list[str] = []
    for view in card.views:
        lines += [
            f"**{md_escape(fmt.view_title(view.grain, view.start, view.period))}"
            f": {fmt.summary(view.counts())}**",
            "",
        ]
        for section in view.sections:
            lines += [
                f"### {md_escape(fmt.domain(section.domain))}",
                "",
                "| " + " | ".join(heads) + " |",
                "|" + "---|" * len(heads),
            ]
            for c in section.cards:
                unit, digits = c.kpi.unit, c.decimals
                target = fmt.target(c.target, c.kpi, digits)
                cells = [
                    c.kpi.label_in(fmt.language),
                    fmt.value(c.actual, unit, digits),
                    target,
                    fmt.value(c.projected, unit, digits),
                    f"{STATUS_ICON.get(c.status, '⚪')} {fmt.status(c.status)}",
                    fmt.compared(c.vs_previous, c.kpi, digits),
                    fmt.compared(c.vs_last_year, c.kpi, digits),
                ]
                lines.append("| " + " | ".join(md_escape(x) for x in cells) + " |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n" if lines else f"*{fmt.t('no_kpis')}*\n"

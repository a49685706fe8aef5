"""The scorecard in every format: table (terminal), markdown (Dagster's UI), HTML, JSON.

Values from platforms, the CSV and kpi.yaml are escaped in Markdown (reporting.markdown)
and in HTML (Jinja2).
"""

from __future__ import annotations

from typing import TextIO

from kpi_pipeline.reporting.html import scorecard_html
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.markdown import markdown
from kpi_pipeline.reporting.model import Scorecard, json_doc
from kpi_pipeline.reporting.terminal import render_text

FORMATS = ("table", "markdown", "html", "json")


def render(
    fmt_name: str, card: Scorecard, fmt: Formatter, version: str, file: TextIO | None = None
) -> str:
    """The text of the scorecard in a format; ``table`` printed to a terminal
    ``file`` gets colour."""
    if fmt_name == "table":
        return render_text(card, fmt, file)
    if fmt_name == "markdown":
        return markdown(card, fmt)
    if fmt_name == "html":
        return scorecard_html(card, fmt, version)
    if fmt_name == "json":
        return json_doc(card, fmt.language)
    raise ValueError(f"unknown format {fmt_name!r}; known: {', '.join(FORMATS)}")

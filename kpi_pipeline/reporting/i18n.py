"""Words and formats for people: English or Dutch, numbers, money and dates by Babel (CLDR).

``Formatter`` is the only place a value becomes text, so the scorecard, the review, the terminal
and the alerts print a KPI the same way: whole counts as whole numbers, ratios as percentages with
one decimal, money with two, quotients of counts (orders per customer) with two.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from connectors.registry import platforms
from kpi_pipeline.kpi.scorecard import NO_VALUE, NOTHING_TO_DIVIDE
from kpi_pipeline.reporting.moment_words import MOMENT_WORDS
from kpi_pipeline.reporting.review_words import REVIEW_WORDS

_SOURCE_REASON = re.compile(
    r"^source not covered through (?P<through>\d{4}-\d{2}-\d{2}): (?P<sources>[a-z0-9_, ]+) "
)
_D = r"\d{4}-\d{2}-\d{2}"
# the snapshot's reasons (kpi_pipeline.kpi.coverage), English, and the words each is said with here
_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?P<stream>[a-z0-9_]+/[a-z0-9_]+) never loaded"), "reason_never"),
    (
        re.compile(rf"^(?P<stream>[a-z0-9_]+/[a-z0-9_]+) not loaded after (?P<date>{_D})"),
        "reason_after",
    ),
    (
        re.compile(
            rf"^(?P<stream>[a-z0-9_]+/[a-z0-9_]+) not loaded for (?P<date>{_D})\.\.(?P<end>{_D})"
        ),
        "reason_gap",
    ),
    (
        re.compile(
            rf"^(?P<stream>[a-z0-9_]+/[a-z0-9_]+) is only reported as of today: "
            rf"nothing was recorded for "
            rf"(?P<date>{_D})"
        ),
        "reason_snapshot",
    ),
    (
        re.compile(r"^manual/metrics: the CSV has no rows for (?P<kpi>[a-z0-9_]+)"),
        "reason_csv_none",
    ),
    (
        re.compile(rf"^manual/metrics: the CSV has (?P<kpi>[a-z0-9_]+) through (?P<date>{_D})"),
        "reason_csv_behind",
    ),
    (re.compile(rf"^partial: since (?P<date>{_D}): history_start is"), "reason_partial_start"),
    (
        re.compile(rf"^partial: since (?P<date>{_D}): (?P<note>.*) \(earlier days"),
        "reason_partial_limit",
    ),
    (re.compile(rf"^through (?P<date>{_D}), the last date entered in the CSV"), "reason_csv_lag"),
]
LOCALES = {"en": "en_GB", "nl": "nl_BE"}

WORDS: dict[str, dict[str, str]] = {
    "scorecard": {"en": "Scorecard", "nl": "Scorecard"},
    "review": {"en": "Review", "nl": "Evaluatie"},
    "as_of": {"en": "as of {date}", "nl": "stand op {date}"},
    "demo_banner": {
        "en": "Demo data: every number on this page comes from the built-in sandbox, not from "
        "your accounts.",
        "nl": "Demogegevens: elk getal op deze pagina komt uit de ingebouwde sandbox, niet uit "
        "uw accounts.",
    },
    "sources": {"en": "Sources", "nl": "Bronnen"},
    "fresh": {"en": "through {date}", "nl": "tot en met {date}"},
    "stale": {"en": "only through {date}", "nl": "slechts tot en met {date}"},
    "never_loaded": {"en": "not loaded yet", "nl": "nog niet geladen"},
    "view_week": {"en": "Week", "nl": "Week"},
    "view_month": {"en": "Month", "nl": "Maand"},
    "view_quarter": {"en": "Quarter", "nl": "Kwartaal"},
    "view_year": {"en": "Year", "nl": "Jaar"},
    "kpi": {"en": "KPI", "nl": "KPI"},
    "period": {"en": "Period", "nl": "Periode"},
    "actual": {"en": "Actual", "nl": "Stand"},
    "target": {"en": "Target", "nl": "Doel"},
    "target_max": {"en": "at most {value}", "nl": "hoogstens {value}"},
    "expected": {"en": "expected by now", "nl": "verwacht tot nu"},
    "projected": {"en": "Projected", "nl": "Prognose"},
    "projection_history": {"en": "paced by last year", "nl": "volgens vorig jaar"},
    "status": {"en": "Status", "nl": "Status"},
    "vs_previous": {"en": "vs previous", "nl": "t.o.v. vorige"},
    "vs_last_year": {"en": "vs last year", "nl": "t.o.v. vorig jaar"},
    "trend": {"en": "Last {n} periods", "nl": "Laatste {n} periodes"},
    "elapsed": {"en": "{share} of the period elapsed", "nl": "{share} van de periode verstreken"},
    "closed": {"en": "closed", "nl": "afgesloten"},
    "final": {"en": "final", "nl": "definitief"},
    "no_kpis": {
        "en": "No KPI has a snapshot for this period yet: run `kpi sync`.",
        "nl": "Nog geen KPI heeft een momentopname voor deze periode: voer `kpi sync` uit.",
    },
    "breakdown": {"en": "Where it comes from", "nl": "Waar het vandaan komt"},
    "by": {"en": "by {dimension}", "nl": "per {dimension}"},
    "reason_source": {
        "en": "no data: {sources} did not load through {date} (failed, stale or not loaded)",
        "nl": "geen gegevens: {sources} niet geladen tot en met {date} (mislukt, verouderd of "
        "niet geladen)",
    },
    "reason_never": {
        "en": "no data: {stream} never loaded (run kpi sync)",
        "nl": "geen gegevens: {stream} nooit geladen (voer kpi sync uit)",
    },
    "reason_after": {
        "en": "no data: {stream} not loaded after {date} (failed or not synced since)",
        "nl": "geen gegevens: {stream} niet geladen na {date} "
        "(mislukt of sindsdien niet gesynchroniseerd)",
    },
    "reason_gap": {
        "en": "no data: {stream} not loaded for {date} to {end} "
        "(kpi sync --start and --end fill it)",
        "nl": "geen gegevens: {stream} niet geladen van {date} tot {end} (kpi sync --start en "
        "--end vullen het aan)",
    },
    "reason_snapshot": {
        "en": "no data: {stream} is only reported as of today; nothing was recorded for {date}",
        "nl": "geen gegevens: {stream} wordt alleen op vandaag gerapporteerd; niets vastgelegd "
        "voor {date}",
    },
    "reason_csv_none": {
        "en": "no data: nothing entered in the CSV for this KPI yet",
        "nl": "geen gegevens: nog niets ingevuld in de CSV voor deze KPI",
    },
    "reason_csv_behind": {
        "en": "not entered yet: the CSV has this KPI through {date}",
        "nl": "nog niet ingevuld: de CSV heeft deze KPI tot en met {date}",
    },
    "reason_partial_start": {
        "en": "partial: since {date}, the start of the history (an earlier history_start "
        "and kpi sync --history fill the rest); not scored",
        "nl": "gedeeltelijk: sinds {date}, het begin van de geschiedenis (een vroegere "
        "history_start en kpi sync --history vullen de rest aan); niet beoordeeld",
    },
    "reason_partial_limit": {
        "en": "partial: since {date} ({note}); not scored",
        "nl": "gedeeltelijk: sinds {date} ({note}); niet beoordeeld",
    },
    "reason_csv_lag": {
        "en": "paced through {date}, the last date entered in the CSV",
        "nl": "doorgerekend tot en met {date}, de laatste datum in de CSV",
    },
    "reason_divide": {
        "en": "no data: nothing to divide by in this period",
        "nl": "geen gegevens: niets om door te delen in deze periode",
    },
    "reason_history": {
        "en": "no data: before the history the platform keeps, or not loaded yet",
        "nl": "geen gegevens: vóór de geschiedenis die het platform bewaart, of nog niet geladen",
    },
    "summary_none": {"en": "no KPI scored yet", "nl": "nog geen KPI gescoord"},
    "generated": {
        "en": "Generated by kpi-pipeline {version}",
        "nl": "Gemaakt door kpi-pipeline {version}",
    },
    **REVIEW_WORDS,
    **MOMENT_WORDS,
}

STATUS_WORDS = {
    "on_track": {"en": "on track", "nl": "op koers"},
    "achieved": {"en": "achieved", "nl": "behaald"},
    "at_risk": {"en": "at risk", "nl": "in gevaar"},
    "off_track": {"en": "off track", "nl": "niet op koers"},
    "missed": {"en": "missed", "nl": "niet behaald"},
    "too_early": {"en": "too early", "nl": "te vroeg"},
    "no_target": {"en": "no target", "nl": "geen doel"},
    "partial": {"en": "partial", "nl": "gedeeltelijk"},
    "no_data": {"en": "no data", "nl": "geen gegevens"},
}
STATUS_ORDER = (
    "off_track",
    "missed",
    "at_risk",
    "on_track",
    "achieved",
    "too_early",
    "no_target",
    "partial",
    "no_data",
)
DOMAIN_WORDS = {
    "marketing": {"en": "Marketing", "nl": "Marketing"},
    "sales": {"en": "Sales", "nl": "Verkoop"},
    "production": {"en": "Production", "nl": "Productie"},
    "customer_service": {"en": "Customer service", "nl": "Klantenservice"},
    "hr": {"en": "HR", "nl": "HR"},
}
DIMENSION_WORDS = {
    "channel": {"en": "channel", "nl": "kanaal"},
    "network": {"en": "network", "nl": "netwerk"},
    "campaign": {"en": "campaign", "nl": "campagne"},
    "product": {"en": "product", "nl": "product"},
}


def missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


class Formatter:
    """Text for one language and currency; every method returns "–" for a missing value."""

    DASH = "–"

    def __init__(self, language: str = "en", currency: str = "EUR") -> None:
        if language not in LOCALES:
            raise ValueError(f"language {language!r} is not one of {', '.join(LOCALES)}")
        self.language, self.currency, self.locale = language, currency, LOCALES[language]

    def t(self, key: str, **values: Any) -> str:
        return WORDS[key][self.language].format(**values)

    def status(self, status: str) -> str:
        return STATUS_WORDS.get(status, {}).get(self.language, status)

    def domain(self, domain: str) -> str:
        return DOMAIN_WORDS.get(domain, {}).get(self.language, domain)

    def dimension(self, name: str) -> str:
        return DIMENSION_WORDS.get(name, {}).get(self.language, name)

    def source(self, name: str) -> str:
        """A platform's name as its package declares it (``NAMES``), else its key."""
        found = platforms().get(name)
        return (found.names.get(self.language) or found.names.get("en") or name) if found else name

    def freshness(self, through: dt.date | None, as_of: dt.date) -> str:
        """ "through 30 Nov 2026", "only through 27 Nov 2026" (stale) or "not loaded yet"."""
        if through is None:
            return self.t("never_loaded")
        return self.t("stale" if through < as_of else "fresh", date=self.date(through, "medium"))

    def summary(self, counts: dict[str, int]) -> str:
        """ "2 off track · 1 at risk · 9 on track" (counts in STATUS_ORDER, the worst first)."""
        if not counts:
            return self.t("summary_none")
        return " · ".join(f"{n} {self.status(s)}" for s, n in counts.items() if n)

    def reason(self, text: str) -> str:
        """Why a KPI has no data, in this language (the snapshot's status_reason is English)."""
        match = _SOURCE_REASON.match(text)
        if match:
            sources = ", ".join(self.source(s.strip()) for s in match["sources"].split(","))
            return self.t(
                "reason_source",
                sources=sources,
                date=self.date(dt.date.fromisoformat(match["through"]), "medium"),
            )
        for pattern, word in _REASONS:
            found = pattern.match(text)
            if found:
                parts = found.groupdict()
                if "stream" in parts:
                    source, _, stream = parts["stream"].partition("/")
                    parts["stream"] = f"{self.source(source)} ({stream.replace('_', ' ')})"
                for name in ("date", "end"):
                    if name in parts:
                        parts[name] = self.date(dt.date.fromisoformat(parts[name]), "medium")
                return self.t(word, **parts)
        if text == NOTHING_TO_DIVIDE:
            return self.t("reason_divide")
        if text == NO_VALUE:
            return self.t("reason_history")
        return text

    def number(self, value: Any, decimals: int = 0) -> str:
        if missing(value):
            return self.DASH
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return format_decimal(
            round(float(value), decimals) + 0.0, format=pattern, locale=self.locale
        )

    def money(self, value: Any, decimals: int = 2) -> str:
        """The amount in the business currency, with the currency's own digits (EUR 2, JPY 0)."""
        if missing(value):
            return self.DASH
        return format_currency(
            round(float(value), decimals) + 0.0, self.currency, locale=self.locale
        )

    def percent(self, value: Any, decimals: int = 1, signed: bool = False) -> str:
        if missing(value):
            return self.DASH
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
        text = format_percent(float(value), format=pattern, locale=self.locale)
        return ("+" + text) if signed and float(value) > 0 else text

    def value(self, value: Any, unit: str, decimals: int | None = None) -> str:
        """A KPI value: ``decimals`` from the catalog (:func:`decimals_of`)."""
        if unit == "ratio":
            return self.percent(value, 1 if decimals is None else decimals)
        if unit == "currency":
            return self.money(value)
        return self.number(value, 0 if decimals is None else decimals)

    def of(self, value: Any, kpi: Any) -> str:
        """A value of ``kpi`` (a KpiDef): its unit and shown decimals."""
        return self.value(value, kpi.unit, kpi.shown_decimals)

    def target(self, value: Any, kpi: Any, decimals: int | None = None) -> str:
        """A target: "at most 35" for a KPI that should stay low."""
        if missing(value):
            return self.DASH
        text = self.value(value, kpi.unit, kpi.shown_decimals if decimals is None else decimals)
        return self.t("target_max", value=text) if kpi.direction == "lower" else text

    def change(self, value: Any) -> str:
        """A relative change with its arrow: "▲ 12.3%", "▼ 4.0%", "= 0.0%"."""
        if missing(value):
            return self.DASH
        arrow = "▲" if value > 0.0005 else "▼" if value < -0.0005 else "="
        return f"{arrow} {self.percent(abs(float(value)))}"

    def compared(self, change: Any, kpi: Any, decimals: int | None = None) -> str:
        """A :class:`~kpi_pipeline.reporting.change.Change` of ``kpi``: its percentage over a real
        base ("▲ 12.3%"); over a tiny base, where a percentage would read +800%, "▲ new" (from 0 to
        a count or amount) or "▲ from 1" (the base in the KPI's unit;
        the current value is beside it)."""
        if change.basis is None:
            return self.DASH
        if change.basis == "pct":
            return self.change(change.pct)
        arrow = "▲" if change.delta > 0 else "▼"
        if change.basis == "new" and change.actual > 0 and kpi.unit != "ratio":
            return f"{arrow} {self.t('change_new')}"
        base = self.value(
            change.base, kpi.unit, kpi.shown_decimals if decimals is None else decimals
        )
        return f"{arrow} {self.t('change_from', base=base)}"

    def date(self, day: dt.date, style: str = "long") -> str:
        return format_date(day, style, locale=self.locale)

    def period(self, grain: str, start: dt.date, week_label: str | None = None) -> str:
        """ "November 2026", "Q4 2026", "2026", "week 48 (23 Nov 2026)"."""
        if grain == "month":
            return format_date(start, "LLLL y", locale=self.locale)
        if grain == "quarter":
            return f"Q{(start.month - 1) // 3 + 1} {start.year}"
        if grain == "year":
            return str(start.year)
        return f"{self.t('grain_week')} {self._week(start, week_label)}"

    def view_title(self, grain: str, start: dt.date, week_label: str | None = None) -> str:
        """ "Month November 2026", "Quarter Q4 2026", "Year 2026", "Week 48 (23 Nov 2026)"."""
        if grain == "week":
            return f"{self.t('view_week')} {self._week(start, week_label)}"
        return f"{self.t('view_' + grain)} {self.period(grain, start)}"

    def _week(self, start: dt.date, week_label: str | None) -> str:
        number = (week_label or "").split("-W")[-1].lstrip("0") or "?"
        return f"{number} ({format_date(start, 'd MMM y', locale=self.locale)})"

"""Hand-kept numbers from a CSV file: ``date,kpi_id,value[,dimension_value]``.

Also as Excel saves it where the decimal mark is a comma: ``;`` between fields, ``12,5``,
day-first dates, Windows-1252 text.

The file is the truth: every load replaces everything an earlier version loaded. A file
with any bad row is refused whole, each bad line named with the reason; nothing is loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from connectors.errors import ConfigurationError
from connectors.http import CallStats, RetryPolicy
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

PLATFORM = "manual"
PROBE = "metrics"  # `kpi check --online` fetches its first page for one day: proves the credentials
HEADER = ["date", "kpi_id", "value"]
ALL_TIME = Window(dt.date(1900, 1, 1), dt.date(2999, 12, 31))


DUTCH_NUMBER = re.compile(r"^-?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")  # 1.234,5 / 1234,5 / 12
DAY_FIRST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")  # 2-11-2026, as Excel saves a date in Dutch


@dataclass(frozen=True)
class Dialect:
    """How the file is written: ``,`` and ISO numbers, or as Excel saves CSV where the decimal
    mark is a comma (Dutch, German, French...): ``;``, ``12,5``, ``1.234,5`` and day-first dates."""

    delimiter: str

    @property
    def decimal_comma(self) -> bool:
        return self.delimiter == ";"

    def number(self, text: str) -> float:
        text = text.strip().replace("\u00a0", "").replace(" ", "")
        if self.decimal_comma:
            if not DUTCH_NUMBER.match(text):
                raise ValueError(text)
            text = text.replace(".", "").replace(",", ".")
        return float(text)

    def date(self, text: str) -> dt.date:
        text = text.strip()
        match = DAY_FIRST.match(text) if self.decimal_comma else None
        if match:
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        return dt.date.fromisoformat(text)


class ManualFile:
    def __init__(self, path: str, kpi_ids: list[str]) -> None:
        self.path = Path(path)
        self.kpi_ids = set(kpi_ids)
        self.stats = CallStats()
        self.policy = RetryPolicy()
        self.notes: list[str] = []  # warnings about a file that loads but may not mean what it says

    def _text(self) -> str:
        data = self.path.read_bytes()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        try:  # Excel's "CSV" (not "CSV UTF-8") is the Windows code page
            return data.decode("cp1252")
        except UnicodeDecodeError as err:
            line = data[:err.start].count(b"\n") + 1
            raise ConfigurationError(f"{self.path}: line {line}: neither UTF-8 nor Windows-1252 text",
                                     platform=PLATFORM, hint="save the file as \"CSV UTF-8\"") from None

    def _dialect(self, first_line: str) -> Dialect:
        counts = {d: first_line.count(d) for d in (",", ";", "\t")}
        return Dialect(max(counts, key=lambda d: (counts[d], d == ",")))

    def read(self) -> list[dict[str, Any]]:
        """Every row, validated; raises ConfigurationError listing each bad line."""
        if not self.path.is_file():
            raise ConfigurationError(f"{self.path} not found", platform=PLATFORM, hint="check sources.manual.path")
        text = self._text()
        dialect = self._dialect(text.split("\n", 1)[0])
        problems: list[str] = []
        rows: list[dict[str, Any]] = []
        seen: dict[tuple, int] = {}
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:3] != HEADER or header[3:] not in ([], ["dimension_value"]):
            shown = {",": "commas", ";": "semicolons", "\t": "tabs"}[dialect.delimiter]
            raise ConfigurationError(
                f"{self.path}: line 1: the header is {dialect.delimiter.join(header) or '(empty)'!r} (separated by "
                f"{shown}); it must be date,kpi_id,value or date,kpi_id,value,dimension_value in that order "
                "(semicolons and decimal commas, as Excel saves CSV in Dutch, work too)",
                platform=PLATFORM, hint="fix the first line of the CSV")
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            why = self._check(cells, len(header), dialect)
            if why:
                problems.append(f"line {number}: {why}")
                continue
            row = {"date": dialect.date(cells[0]).isoformat(), "kpi_id": cells[1].strip(),
                   "value": dialect.number(cells[2]), "dimension_value": cells[3].strip() if len(cells) > 3 else "",
                   "line": number}
            key = (row["date"], row["kpi_id"], row["dimension_value"])
            if key in seen:
                problems.append(f"line {number}: repeats line {seen[key]} ({row['date']}, {row['kpi_id']})")
                continue
            seen[key] = number
            rows.append(row)
        if problems:
            shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
            raise ConfigurationError(f"{self.path} refused, nothing loaded ({len(problems)} bad line(s)):\n    "
                                     + "\n    ".join(shown), platform=PLATFORM, hint="fix the lines named above")
        self._note_missing_totals(rows)
        return rows

    def _note_missing_totals(self, rows: list[dict[str, Any]]) -> None:
        """A KPI whose every row names a dimension_value has no total row: its total shows no data."""
        by_kpi: dict[str, list[bool]] = {}
        for row in rows:
            by_kpi.setdefault(row["kpi_id"], []).append(row["dimension_value"] == "")
        for kpi_id, totals in sorted(by_kpi.items()):
            if not any(totals):
                self.notes.append(
                    f"manual: {kpi_id}: all {len(totals):,} rows carry a dimension_value and none is a total, so the "
                    f"KPI's total shows no data; add rows with an empty dimension_value for the totals")

    def _check(self, cells: list[str], width: int, dialect: Dialect) -> str | None:
        if len(cells) < 3 or len(cells) > width:
            return f"expected {width} fields, found {len(cells)}"
        try:
            dialect.date(cells[0])
        except ValueError:
            return f"date {cells[0]!r} is not YYYY-MM-DD" + (" or DD-MM-YYYY" if dialect.decimal_comma else "")
        if cells[1].strip() not in self.kpi_ids:
            return f"kpi_id {cells[1].strip()!r} is not one of custom_kpis ({', '.join(sorted(self.kpi_ids)) or 'none'})"
        try:
            value = dialect.number(cells[2])
        except ValueError:
            return f"value {cells[2]!r} is not a number" + (" (like 1234,5 in a file separated by semicolons)"
                                                             if dialect.decimal_comma else "")
        if math.isnan(value) or math.isinf(value):
            return f"value {cells[2]!r} is not a finite number"
        return None


def connect(settings: dict[str, Any]) -> ManualFile:
    return ManualFile(settings["path"], settings.get("kpi_ids", []))


def fetch_metrics(client: ManualFile, window: Window, ctx: StreamContext) -> Iterator[Page]:
    rows = client.read()
    for note in client.notes:
        ctx.warn(note)
    if rows:
        yield Page(rows, account=str(client.path.name))


STREAMS = {
    "metrics": StreamSpec(
        PLATFORM, "metrics", "Hand-kept numbers of the custom KPIs; each load replaces the previous file's rows.",
        key=("date", "kpi_id", "dimension_value"), date_column="date", kind="file", lookback_days=1, events=True,
        columns=(Column("date", "DATE"), Column("kpi_id", "VARCHAR"), Column("value", "DOUBLE"),
                 Column("dimension_value", "VARCHAR", derive=lambda r, c: r["dimension_value"]),  # '' = total
                 Column("line", "BIGINT")),
        fetch=fetch_metrics),
}

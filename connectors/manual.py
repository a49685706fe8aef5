"""Hand-kept numbers from a CSV file: ``date,kpi_id,value[,dimension_value]``.

The file is the truth: every load replaces everything an earlier version loaded. A file
with any bad row is refused whole, each bad line named with the reason; nothing is loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any, Iterator

from connectors.errors import ConfigurationError
from connectors.http import CallStats, RetryPolicy
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

PLATFORM = "manual"
HEADER = ["date", "kpi_id", "value"]
ALL_TIME = Window(dt.date(1900, 1, 1), dt.date(2999, 12, 31))


class ManualFile:
    def __init__(self, path: str, kpi_ids: list[str]) -> None:
        self.path = Path(path)
        self.kpi_ids = set(kpi_ids)
        self.stats = CallStats()
        self.policy = RetryPolicy()

    def read(self) -> list[dict[str, Any]]:
        """Every row, validated; raises ConfigurationError listing each bad line."""
        if not self.path.is_file():
            raise ConfigurationError(f"{self.path} not found", platform=PLATFORM, hint="check sources.manual.path")
        problems: list[str] = []
        rows: list[dict[str, Any]] = []
        seen: dict[tuple, int] = {}
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            if header[:3] != HEADER or header[3:] not in ([], ["dimension_value"]):
                raise ConfigurationError(f"{self.path}: line 1: header must be date,kpi_id,value[,dimension_value]",
                                         platform=PLATFORM, hint="fix the CSV header")
            for number, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                why = self._check(cells, len(header))
                if why:
                    problems.append(f"line {number}: {why}")
                    continue
                row = {"date": cells[0].strip(), "kpi_id": cells[1].strip(), "value": float(cells[2]),
                       "dimension_value": cells[3].strip() if len(cells) > 3 else "", "line": number}
                key = (row["date"], row["kpi_id"], row["dimension_value"])
                if key in seen:
                    problems.append(f"line {number}: repeats line {seen[key]} ({row['date']}, {row['kpi_id']})")
                    continue
                seen[key] = number
                rows.append(row)
        if problems:
            raise ConfigurationError(f"{self.path} refused, nothing loaded:\n    " + "\n    ".join(problems),
                                     platform=PLATFORM, hint="fix the lines named above")
        return rows

    def _check(self, cells: list[str], width: int) -> str | None:
        if len(cells) < 3 or len(cells) > width:
            return f"expected {width} fields, found {len(cells)}"
        try:
            dt.date.fromisoformat(cells[0].strip())
        except ValueError:
            return f"date {cells[0]!r} is not YYYY-MM-DD"
        if cells[1].strip() not in self.kpi_ids:
            return f"kpi_id {cells[1].strip()!r} is not one of custom_kpis ({', '.join(sorted(self.kpi_ids)) or 'none'})"
        try:
            value = float(cells[2])
        except ValueError:
            return f"value {cells[2]!r} is not a number"
        if math.isnan(value) or math.isinf(value):
            return f"value {cells[2]!r} is not a finite number"
        return None


def connect(settings: dict[str, Any]) -> ManualFile:
    return ManualFile(settings["path"], settings.get("kpi_ids", []))


def fetch_metrics(client: ManualFile, window: Window, ctx: StreamContext) -> Iterator[Page]:
    rows = client.read()
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

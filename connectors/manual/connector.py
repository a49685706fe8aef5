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
import itertools
import math
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.errors import ConfigurationError
from connectors.http import CallStats, RetryPolicy
from connectors.manual import PLATFORM
from connectors.streams import Column, Page, StreamContext, StreamSpec, Window

# `kpi check --online` fetches its first page for one day: proves the credentials
PROBE = "metrics"
HEADER = ["date", "kpi_id", "value"]
ALL_TIME = Window(dt.date(1900, 1, 1), dt.date(2999, 12, 31))


DUTCH_NUMBER = re.compile(r"^-?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")  # 1.234,5 / 1234,5 / 12
DAY_FIRST = re.compile(
    r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$"
)  # 2-11-2026, as Excel saves a date in Dutch


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


class Keys:
    """The (date, kpi_id, dimension_value) of every row, to find those a later line repeats: 16
    bytes a row in two arrays, sorted once at the end (a dict of a million keys took 130 MB)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], int] = {}  # (kpi_id, dimension_value) -> its number
        self.keys = array(
            "q"
        )  # group << 22 | day ordinal (dates up to the year 11000 fit in 22 bits)
        self.lines = array("q")

    def add(self, kpi_id: str, dimension_value: str, day: int, line: int) -> None:
        group = self.groups.setdefault((kpi_id, dimension_value), len(self.groups))
        self.keys.append(group << 22 | day)
        self.lines.append(line)

    def repeats(self) -> list[tuple[int, str]]:
        """(line, why) of each row whose key an earlier line has."""
        if len(self.keys) < 2:
            return []
        keys = pa.Array.from_buffers(pa.int64(), len(self.keys), [None, pa.py_buffer(self.keys)])
        order = pc.sort_indices(keys)  # stable: equal keys keep the file's order
        ordered = keys.take(order)
        same = pc.equal(ordered[1:], ordered[:-1])
        if not pc.any(same).as_py():
            return []
        names = list(self.groups)
        out: list[tuple[int, str]] = []
        first = 0
        for i, repeated in enumerate(same.to_pylist(), start=1):
            if not repeated:
                first = i
                continue
            key = ordered[i].as_py()
            day = dt.date.fromordinal(key & (1 << 22) - 1)
            out.append(
                (
                    self.lines[order[i].as_py()],
                    f"repeats line {self.lines[order[first].as_py()]} ({day}, "
                    f"{names[key >> 22][0]})",
                )
            )
        return out


# rows per page: a file of millions of rows is read, checked and staged in bounded memory
PAGE_ROWS = 10_000
SNIFF = 64 * 1024  # bytes read to tell what kind of file it is


class ManualFile:
    """The CSV, read a page of rows at a time. A date after ``last_day`` (the last day that has
    happened) is a typo, refused by its line; one before ``first_day`` (history_start) is said."""

    def __init__(
        self,
        path: str,
        kpi_ids: list[str],
        first_day: dt.date | None = None,
        last_day: dt.date | None = None,
    ) -> None:
        self.path = Path(path)
        self.kpi_ids = set(kpi_ids)
        self.first_day, self.last_day = first_day, last_day
        self.stats = CallStats()
        self.policy = RetryPolicy()
        self.notes: list[str] = []  # warnings about a file that loads but may not mean what it says

    def _refuse(self, what: str, hint: str = 'save the file as "CSV UTF-8"') -> ConfigurationError:
        return ConfigurationError(f"{self.path}: {what}", platform=PLATFORM, hint=hint)

    def _encoding(self) -> str:
        """UTF-8 (with or without BOM), else Windows-1252 (Excel's "CSV"), read line by line so a
        file's worth of text is never in memory. A file with both is refused: decoding it either way
        garbles one part ("CafÃ©"), so the first line that is not UTF-8 is named."""
        with self.path.open("rb") as raw:
            head = raw.read(SNIFF)
            if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise self._refuse(
                    'a UTF-16 file (as Excel saves "Unicode Text"), not a CSV of UTF-8 or '
                    "Windows-1252 text; nothing loaded"
                )
            if head.startswith(b"PK\x03\x04"):
                raise self._refuse("an Excel workbook (.xlsx), not a CSV; nothing loaded")
            if b"\x00" in head:
                raise self._refuse(
                    "not text: it holds NUL bytes (UTF-16 without a byte-order mark?); "
                    "nothing loaded"
                )
            raw.seek(0)
            utf8_line = bad_line = bad_byte = 0
            for number, line in enumerate(raw, start=1):
                if line.isascii():
                    continue
                try:
                    line.decode("utf-8")
                    utf8_line = utf8_line or number
                except UnicodeDecodeError as err:
                    try:
                        line.decode("cp1252")
                    except UnicodeDecodeError:
                        raise self._refuse(
                            f"line {number}: neither UTF-8 nor Windows-1252 text"
                        ) from None
                    if not bad_line:
                        bad_line, bad_byte = number, line[err.start]
                if utf8_line and bad_line:
                    raise self._refuse(
                        f"line {bad_line}: byte 0x{bad_byte:02x} is not UTF-8, but line "
                        f"{utf8_line} is UTF-8 text: the file mixes two encodings (text pasted "
                        "from another file?); nothing loaded",
                        hint=f"retype the accented text of line {bad_line} and save the file as "
                        '"CSV UTF-8"',
                    )
        # Excel's "CSV" (not "CSV UTF-8") is the Windows code page
        return "cp1252" if bad_line else "utf-8-sig"

    def _dialect(self, first_line: str) -> Dialect:
        counts = {d: first_line.count(d) for d in (",", ";", "\t")}
        return Dialect(max(counts, key=lambda d: (counts[d], d == ",")))

    def read(self) -> list[dict[str, Any]]:
        """Every row, validated (all in memory: for small files; loads use :meth:`pages`)."""
        return [row for page in self.pages() for row in page.records]

    def pages(self, rows_per_page: int = PAGE_ROWS) -> Iterator[Page]:
        """The rows, validated, ``rows_per_page`` at a time, each page saying how much of the file
        is read. Raises ConfigurationError listing each bad line once the whole file is read: a file
        with any is refused whole (the loader stages pages, so what was yielded is dropped)."""
        if not self.path.is_file():
            raise ConfigurationError(
                f"{self.path} not found", platform=PLATFORM, hint="check sources.manual.path"
            )
        encoding = self._encoding()
        size = self.path.stat().st_size or 1
        with (
            self.path.open("rb") as raw,
            io.TextIOWrapper(raw, encoding=encoding, newline="") as text,
        ):
            try:
                yield from self._pages(text, lambda: raw.tell() / size, rows_per_page)
            except UnicodeDecodeError:  # the file changed since its encoding was checked
                raise self._refuse(
                    f"not {encoding} text any more; it changed while being read"
                ) from None

    def _pages(self, text: io.TextIOWrapper, done: Any, rows_per_page: int) -> Iterator[Page]:
        first = text.readline()
        dialect = self._dialect(first.split("\n", 1)[0])
        reader = csv.reader(itertools.chain([first], text), delimiter=dialect.delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:3] != HEADER or header[3:] not in ([], ["dimension_value"]):
            separators = {",": "commas", ";": "semicolons", "\t": "tabs"}[dialect.delimiter]
            raise ConfigurationError(
                f"{self.path}: line 1: the header is "
                f"{dialect.delimiter.join(header) or '(empty)'!r} (separated by {separators}); it "
                "must be date,kpi_id,value or date,kpi_id,value,dimension_value in that order "
                "(semicolons and decimal commas, as Excel saves CSV in Dutch, work too)",
                platform=PLATFORM,
                hint="fix the first line of the CSV",
            )
        problems: list[tuple[int, str]] = []
        page: list[dict[str, Any]] = []
        keys = Keys()
        totals: dict[str, list[int]] = {}  # kpi_id -> [rows, total rows]
        # before history_start: kept (an owner who moves history_start later keeps the older rows),
        # but said, with the first lines, as no KPI counts them (1999 for 2026 is a typo)
        early: list[int] = []
        early_rows = 0
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            row = self._row(cells, len(header), dialect)
            if isinstance(row, str):
                problems.append((number, row))
                continue
            day = row.pop("day")
            keys.add(row["kpi_id"], row["dimension_value"], day, number)
            row["line"] = number
            counts = totals.setdefault(row["kpi_id"], [0, 0])
            counts[0] += 1
            counts[1] += row["dimension_value"] == ""
            if self.first_day is not None and day < self.first_day.toordinal():
                early_rows += 1
                if len(early) < 3:
                    early.append(number)
            if problems:  # refused anyway: read on only to name every bad line
                continue
            page.append(row)
            if len(page) >= rows_per_page:
                yield Page(page, account=self.path.name, done=done())
                page = []
        problems = sorted(problems + keys.repeats())
        if problems:
            named = [f"line {number}: {why}" for number, why in problems]
            shown = named[:20] + ([f"... and {len(named) - 20} more"] if len(named) > 20 else [])
            raise ConfigurationError(
                f"{self.path} refused, nothing loaded ({len(named)} bad line(s)):\n    "
                + "\n    ".join(shown),
                platform=PLATFORM,
                hint="fix the lines named above",
            )
        self._note_missing_totals(totals)
        if early_rows:
            self.notes.append(
                f"manual: {early_rows:,} row(s) dated before history_start ({self.first_day}) "
                "count in no KPI: line "
                f"{', '.join(map(str, early))}{' ...' if early_rows > len(early) else ''}; check "
                "the dates if they are typos"
            )
        if page:
            yield Page(page, account=self.path.name, done=done())

    def _note_missing_totals(self, totals: dict[str, list[int]]) -> None:
        """A KPI whose every row names a dimension_value has no total row:
        its total shows no data."""
        for kpi_id, (rows, total_rows) in sorted(totals.items()):
            if not total_rows:
                self.notes.append(
                    f"manual: {kpi_id}: all {rows:,} rows carry a dimension_value and none is a "
                    "total, so the KPI's total shows no data; add rows with an empty "
                    "dimension_value for the totals"
                )

    def _row(self, cells: list[str], width: int, dialect: Dialect) -> dict[str, Any] | str:
        """The row of a line, or why it is refused."""
        if len(cells) < 3 or len(cells) > width:
            return f"expected {width} fields, found {len(cells)}"
        try:
            day = dialect.date(cells[0])
        except ValueError:
            return f"date {cells[0]!r} is not YYYY-MM-DD" + (
                " or DD-MM-YYYY" if dialect.decimal_comma else ""
            )
        if self.last_day is not None and day > self.last_day:
            return (
                f"date {day} is after {self.last_day}, and custom KPIs have no numbers for days to "
                "come: a typo?"
            )
        kpi_id = cells[1].strip()
        if kpi_id not in self.kpi_ids:
            known = ", ".join(sorted(self.kpi_ids)) or "none"
            return f"kpi_id {kpi_id!r} is not one of custom_kpis ({known})"
        try:
            value = dialect.number(cells[2])
        except ValueError:
            return f"value {cells[2]!r} is not a number" + (
                " (like 1234,5 in a file separated by semicolons)" if dialect.decimal_comma else ""
            )
        if math.isnan(value) or math.isinf(value):
            return f"value {cells[2]!r} is not a finite number"
        return {
            "date": day.isoformat(),
            "kpi_id": kpi_id,
            "value": value,
            "dimension_value": cells[3].strip() if len(cells) > 3 else "",
            "day": day.toordinal(),
        }


def connect(settings: dict[str, Any]) -> ManualFile:
    return ManualFile(
        settings["path"],
        settings.get("kpi_ids", []),
        settings.get("history_start"),
        settings.get("last_day"),
    )


def fetch_metrics(client: ManualFile, window: Window, ctx: StreamContext) -> Iterator[Page]:
    yield from client.pages()
    for note in client.notes:  # known once the whole file is read
        ctx.warn(note)


STREAMS = {
    "metrics": StreamSpec(
        PLATFORM,
        "metrics",
        "Hand-kept numbers of the custom KPIs; each load replaces the previous file's rows.",
        key=("date", "kpi_id", "dimension_value"),
        date_column="date",
        kind="file",
        lookback_days=1,
        events=True,
        columns=(
            Column("date", "DATE"),
            Column("kpi_id", "VARCHAR"),
            Column("value", "DOUBLE"),
            Column(
                "dimension_value", "VARCHAR", derive=lambda r, c: r["dimension_value"]
            ),  # '' = total
            Column("line", "BIGINT"),
        ),
        fetch=fetch_metrics,
    ),
}

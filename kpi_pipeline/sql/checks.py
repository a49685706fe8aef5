"""Checks declared beside the SQL models (``<folder>/checks.yml``), run in the model's own step.

unique / not_null / accepted_values are blocking: a duplicate row or a missing date would
corrupt a KPI, so nothing downstream runs on it. Every model also gets ``row_count``: a build
with far fewer rows than its previous builds (or none, after having some) is a warning.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from kpi_pipeline.kpi.catalog import SAFE_LOADER

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
ROW_COUNT = "row_count"
# one check per model for all it declares: each check is events in Dagster's log
DECLARED = "keys_and_values"
HISTORY = 5  # previous builds a row count is compared with
DROP = 0.5  # fewer than half the usual rows: warn


class ModelChecks(BaseModel):
    """What one model declares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    accepted_values: dict[str, tuple[str, ...]] = {}

    @field_validator("unique", "not_null")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for column in value:
            if not _IDENT.match(column):
                raise ValueError(f"{column!r} is not a column name")
        return value

    @field_validator("accepted_values")
    @classmethod
    def _accepted(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        cls._columns(tuple(value))
        return value

    def describe(self) -> str:
        return "; ".join(what for _, what in self.names())

    def names(self) -> list[tuple[str, str]]:
        """(check name, description) of each declared check."""
        out = []
        if self.unique:
            out.append(("unique_key", f"one row per {', '.join(self.unique)}"))
        for column in self.not_null:
            out.append((f"not_null_{column}", f"{column} is never null"))
        for column, values in self.accepted_values.items():
            out.append((f"accepted_values_{column}", f"{column} is one of {', '.join(values)}"))
        return out


class ChecksFileError(ValueError):
    """A checks.yml that is not as documented: names the file and the model."""


def load_checks(folder: Path, generated: Iterable[str] = ()) -> dict[str, ModelChecks]:
    """The declarations of every model in ``folder`` (empty when there is no checks.yml).

    Args:
        generated: models of the folder made without a file of their own (``kpi_daily``).
    """
    path = folder / "checks.yml"
    if not path.exists():
        return {}
    data = yaml.load(path.read_text(), Loader=SAFE_LOADER) or {}
    if not isinstance(data, dict):
        raise ChecksFileError(f"{path}: expected a mapping of model name -> checks")
    out = {}
    for model, spec in data.items():
        if not (folder / f"{model}.sql").exists() and model not in generated:
            raise ChecksFileError(f"{path}: {model}: no such model ({model}.sql) in {folder.name}/")
        try:
            out[model] = ModelChecks.model_validate(spec or {})
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ChecksFileError(f"{path}: {model}.{where}: {first['msg']}") from None
    return out


def run_checks(con: Any, table: str, checks: ModelChecks) -> list[tuple[str, bool, dict[str, Any]]]:
    """Evaluate the declared checks on a built table: (name, passed, metadata) each."""
    results: list[tuple[str, bool, dict[str, Any]]] = []
    if checks.unique:
        cols = ", ".join(checks.unique)
        dupes = con.execute(
            f"select {cols}, count(*) as n from {table} group by all having count(*) > 1 "
            "order by n desc limit 5"
        ).fetchall()
        results.append(("unique_key", not dupes, {"duplicates": str(dupes) if dupes else "none"}))
    for column in checks.not_null:
        nulls = con.execute(f"select count(*) from {table} where {column} is null").fetchone()[0]
        results.append((f"not_null_{column}", nulls == 0, {"null_rows": int(nulls)}))
    for column, values in checks.accepted_values.items():
        marks = ", ".join("?" for _ in values)
        bad = con.execute(
            f"select distinct {column}::varchar from {table} where {column} is not null "
            f"and {column}::varchar not in ({marks}) limit 5",
            list(values),
        ).fetchall()
        results.append(
            (
                f"accepted_values_{column}",
                not bad,
                {"unexpected": ", ".join(str(v[0]) for v in bad) if bad else "none"},
            )
        )
    return results


def row_count_anomaly(rows: int, previous: list[int]) -> tuple[bool, str]:
    """(passed, why): a build far below its previous builds' median is suspicious."""
    if not previous:
        return True, "first build: nothing to compare with"
    usual = statistics.median(previous[:HISTORY])
    if usual > 0 and rows == 0:
        return False, f"0 rows, where previous builds had {usual:,.0f} (median)"
    if usual > 0 and rows < DROP * usual:
        return (
            False,
            f"{rows:,} rows, under half of the usual {usual:,.0f} (median of the last "
            f"{len(previous[:HISTORY])})",
        )
    return True, f"{rows:,} rows (previous median {usual:,.0f})"

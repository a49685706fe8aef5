"""Checks of kpi.yaml's ``targets:``: every problem as (yaml path, message)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from kpi_pipeline.config.sources import SOURCE_MODELS
from kpi_pipeline.kpi.catalog import KpiDef, builtin_kpis
from kpi_pipeline.kpi.periods import GRAINS, parse_label


class Configured(Protocol):
    """What the targets' check needs of a valid configuration (``config.Settings`` is one); a
    protocol, so that this module does not import ``config``, which imports it."""

    def kpis(self) -> Iterable[KpiDef]: ...

    def enabled_sources(self) -> Mapping[str, Any]: ...


def check_targets(
    raw: dict[str, Any], known: dict[str, KpiDef | str], week_start: str
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for kpi_id, grains in (raw or {}).items():
        base = f"targets.{kpi_id}"
        if kpi_id not in known:
            problems.append((base, "unknown KPI id (see `kpi catalog`)"))
            continue
        kpi = known[kpi_id]
        if isinstance(kpi, str):
            problems.append((base, kpi))
            continue
        if not isinstance(grains, dict):
            problems.append((base, "expected a mapping of grain -> target"))
            continue
        for grain, spec in grains.items():
            where = f"{base}.{grain}"
            if grain not in GRAINS or grain == "day":
                problems.append((where, f"unknown grain (use {', '.join(GRAINS[1:])})"))
                continue
            values = spec if isinstance(spec, dict) else {"default": spec}
            for period, value in values.items():
                at = f"{where}.{period}" if isinstance(spec, dict) else where
                if period != "default":
                    try:
                        parse_label(grain, str(period), week_start)
                    except ValueError as err:
                        problems.append((at, str(err)))
                        continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append((at, "target must be a number"))
                elif not math.isfinite(value):
                    problems.append((at, "target must be a finite number (not .nan or .inf)"))
                elif kpi.unit == "ratio" and not 0 <= value <= 1:
                    problems.append(
                        (at, "a ratio target is a fraction between 0 and 1 (40% is 0.40)")
                    )
                elif value < 0:
                    problems.append((at, "target must not be negative"))
    return problems


def known_kpis(data: dict[str, Any], settings: Configured | None) -> dict[str, KpiDef | str]:
    """KPI ids a target may name: the configuration's, or (if it is broken) every known one.

    A built-in KPI whose source is not configured maps to a message saying so.
    """
    if settings is not None:
        known: dict[str, KpiDef | str] = {k.id: k for k in settings.kpis()}
        enabled = set(settings.enabled_sources())
    else:
        known = {}
        enabled = set(SOURCE_MODELS)
        for entry in data.get("custom_kpis") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                known[entry["id"]] = KpiDef(
                    id=entry["id"],
                    label=entry["id"],
                    domain="hr",
                    unit="count",
                    direction="higher",
                    aggregation="sum",
                )
    for kpi in builtin_kpis():
        if kpi.id not in known:
            need = sorted(set(kpi.sources) - enabled)
            known[kpi.id] = (
                kpi if not need else f"needs sources.{need[0]}, which kpi.yaml does not configure"
            )
    return known

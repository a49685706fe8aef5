"""KPI semantics: what a number means, with no Dagster and no I/O but the warehouse's tables.

``catalog`` (the KPIs and their formulas), ``calendar`` and ``periods`` (weeks, months, quarters,
years; comparison windows), ``coverage`` (per input), ``cohorts`` (maturing conversions),
``scorecard`` (pacing and status), ``lineage`` (the raw streams each KPI reads).
"""

"""The SQL models: read from the files, ordered by their parsed dependencies, checked.

``models`` (the runner), ``checks`` (checks.yml), ``kpi_sql`` (``kpi_daily``/``kpi_ranges``
generated from the catalog), ``build`` (every model in order, outside Dagster).
"""

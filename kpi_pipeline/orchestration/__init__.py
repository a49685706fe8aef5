"""The Dagster layer: assets, checks, schedules, sensors, definitions; the run and the instance.

Only this package (and ``kpi_pipeline.event_log``, which ``dagster.yaml`` names, ``portfolio.defs``,
``portfolio.businesses.business_definitions`` and the commands that start runs) imports Dagster;
``dagster_private`` holds every use of Dagster's internals.
"""

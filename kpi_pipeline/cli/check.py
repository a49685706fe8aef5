"""``kpi check`` (kpi.yaml, credentials, with ``--online`` the accounts), ``kpi catalog``, ``kpi
doctor`` and ``kpi init-instance``."""

from __future__ import annotations

import argparse
import sys

from connectors.errors import AuthenticationError, ConfigurationError, ConnectorError
from connectors.manual.connector import connect as connect_manual
from kpi_pipeline.cli.args import as_of_arg
from kpi_pipeline.cli.exits import BAD_INPUT, FAILED, OK, BadInput
from kpi_pipeline.config.settings import ConfigError, Settings, missing_credentials
from kpi_pipeline.kpi.catalog import print_catalog
from kpi_pipeline.sources.windows import source_settings, today


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    print(
        f"{settings.config_path}: valid ({settings.business}, {settings.timezone}, "
        f"{'demo sandbox' if settings.demo else 'live APIs'})"
    )
    print(
        f"sources: {', '.join(settings.enabled_sources()) or 'none'}; KPIs: "
        f"{len(settings.kpis())}; warehouse: {settings.warehouse_path}"
    )
    missing = missing_credentials(settings)
    if missing:
        print("missing credentials:", file=sys.stderr)
        for item in missing:
            print(f"  - {item}", file=sys.stderr)
        return BAD_INPUT
    print("credentials: all set" if not settings.demo else "credentials: not needed in demo mode")
    if "manual" in settings.enabled_sources():
        values = source_settings(settings, "manual", settings.default_as_of())
        try:
            csv_file = connect_manual(values)
            rows = sum(len(page.records) for page in csv_file.pages())
        except ConnectorError as err:
            print(f"error: {err}", file=sys.stderr)
            return BAD_INPUT
        print(f"manual: {rows:,} rows in {values['path']}")
        for note in csv_file.notes:
            print(f"warning: {note}", file=sys.stderr)
    if not args.online:
        return OK
    # late: every connector's SDK
    from kpi_pipeline.sources.names import check_names
    from kpi_pipeline.sources.probe import probe_sources

    as_of = as_of_arg(args, settings)
    print("online: the first page of one stream per source, for one day")
    failed = probe_sources(settings, as_of, print)
    print("names: what kpi.yaml names in each account (event types, lifecycle stages, API version)")
    names = check_names(settings, as_of, today(settings, as_of), set(failed), print)
    for warning in names.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed.update(names.failed)
    if not failed and not names.errors:
        return OK
    if names.errors:
        many = len(names.errors) != 1
        print(
            f"error: {len(names.errors)} setting{'s' if many else ''} in kpi.yaml "
            f"name{'' if many else 's'} what the account does not have or no longer serves: fix "
            "what each line above names",
            file=sys.stderr,
        )
    if failed:
        print(
            f"error: {', '.join(failed)} refused or failed: fix what each line above names",
            file=sys.stderr,
        )
    refused = bool(names.errors) or any(
        isinstance(e, (AuthenticationError, ConfigurationError, ConfigError))
        for e in failed.values()
    )
    return BAD_INPUT if refused else FAILED


def cmd_catalog(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.kpi.lineage import kpi_streams  # late: every connector's SDK

    kpis = settings.kpis()
    print_catalog(
        kpis,
        args.format,
        settings.language,
        settings.conversion_window_days,
        kpi_streams(kpis, settings.enabled_sources()),
    )
    return OK


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.orchestration.doctor import diagnose  # late: Dagster

    if args.run and not args.repair:
        raise BadInput("--run: only with --repair")
    problems = diagnose(settings, print, repair_all=args.repair, force=tuple(args.run))
    return OK if not problems else FAILED


def cmd_init_instance(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.orchestration.instance_setup import ensure_instance  # late: Dagster

    print(f"DAGSTER_HOME: {ensure_instance(settings)}")
    return OK

"""`kpi check --online`, second part: the names kpi.yaml takes from a platform must be names the
account has (README.md#what-the-numbers-mean, "Names match whole"). A typo in an event type or
a stage matches nothing and would count 0 forever; here it is refused by its YAML path, with the
names the account does have.

Names compare whole, case-insensitive and trimmed, as the KPI models compare them. Each platform's
connector does its own checks (``connectors/names.py``): Calendly's event types, HubSpot's
lifecycle stages, and Google Ads' API version against its sunset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.errors import ConnectorError
from connectors.registry import connect, platform
from kpi_pipeline.config.settings import ConfigError, Settings
from kpi_pipeline.sources.windows import source_settings


@dataclass
class NameReport:
    """What the name checks found: errors refuse the configuration, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(
        default_factory=dict
    )  # the account's names could not be read


def check_names(
    settings: Settings, as_of: dt.date, today: dt.date, skip: set[str], say: Callable[[str], None]
) -> NameReport:
    """Fetch what each enabled account defines and compare the configured names with it (each
    platform's ``check_names``, and ``check_settings`` for what needs no request); say one line
    per source (``skip``: sources whose credentials already failed)."""
    report = NameReport()
    for source, block in settings.enabled_sources().items():
        checks = platform(source).name_checks()
        if checks.settings is not None:
            judged = checks.settings(block, today)
            report.errors += judged.errors
            report.warnings += judged.warnings
        if checks.names is None or source in skip:
            continue
        try:
            found = checks.names(connect(source, source_settings(settings, source, as_of)), block)
        except (ConnectorError, ConfigError) as err:
            report.failed[source] = err
            say(f"  x {source}: could not read the account's names: {err}")
            continue
        report.errors += found.errors
        report.warnings += found.warnings
        if not found.errors:
            say(f"  ok {source}: every configured name is one of the account's ({found.found})")
    for line in report.errors:
        say(f"  x {line}")
    return report

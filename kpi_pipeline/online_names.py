"""`kpi check --online`, second part: the names kpi.yaml takes from a platform must be names the
account has (README.md#what-the-numbers-mean, "Names match whole"). A typo in an event type or
a stage matches nothing and would count 0 forever; here it is refused by its YAML path, with the
names the account does have.

Names compare whole, case-insensitive and trimmed, as the KPI models compare them. Also says
when the configured Google Ads API version is sunset or near its sunset.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from connectors.google_ads import connector as google_ads
from connectors.errors import ConnectorError
from connectors.hubspot.connector import STAGES as HUBSPOT_STAGES_READ
from kpi_pipeline.config import ConfigError, Settings
from kpi_pipeline.loading import connect_source
from kpi_pipeline.runtime import source_settings

LIFECYCLE_PROPERTY = "/crm/v3/properties/contacts/lifecyclestage"


@dataclass
class NameReport:
    """What the name checks found: errors refuse the configuration, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)  # the account's names could not be read


def norm(name: str) -> str:
    """A name as the models compare it: trimmed and lower-case."""
    return name.strip().lower()


def unknown_names(path: str, configured: list[str], known: dict[str, str], what: str,
                  hint: Callable[[str], str] = lambda name: "") -> list[str]:
    """One message per configured name that is not a key of ``known`` (normalized name -> how
    the account shows it), naming its YAML path and listing what the account has."""
    listing = ", ".join(known.values()) or "none"
    return [f"{path}[{i}]: {name!r} is not {what}{hint(name)}; it has: {listing}"
            for i, name in enumerate(configured) if norm(name) not in known]


def check_calendly(client: Any, settings: Settings, report: NameReport) -> str:
    """intro_call_event_types against the account's event types (active and inactive)."""
    types = client.event_types()
    known = {norm(t["name"]): t["name"] + ("" if t.get("active", True) else " (inactive)")
             for t in sorted(types, key=lambda t: t["name"].lower())}
    configured = settings.sources.calendly.intro_call_event_types
    report.errors += unknown_names("sources.calendly.intro_call_event_types", configured, known,
                                   "an event type of this Calendly account")
    return f"{len(types)} event types"


def lifecycle_stages(client: Any) -> list[dict[str, Any]]:
    """The options of HubSpot's lifecyclestage property: standard stages and the portal's own."""
    body = client.http.request_json("GET", LIFECYCLE_PROPERTY, stream="lifecycle_stages")
    return list(body.get("options") or [])  # hidden ones too: hidden from forms, still a stage


def check_hubspot(client: Any, settings: Settings, report: NameReport) -> str:
    """lead_stages against the account's lifecycle stages (internal values; custom ones too)."""
    options = lifecycle_stages(client)
    known = {norm(o["value"]): o["value"] if norm(o["label"]).replace(" ", "") == norm(o["value"])
             else f"{o['value']} ({o['label']})" for o in options}
    labels = {norm(o["label"]): o["value"] for o in options}
    configured = settings.sources.hubspot.lead_stages
    report.errors += unknown_names(
        "sources.hubspot.lead_stages", configured, known, "a lifecycle stage of this HubSpot account",
        lambda name: f" (write the stage's internal value {labels[norm(name)]!r}, not its label)"
        if norm(name) in labels else "")
    for i, name in enumerate(configured):
        if norm(name) in known and norm(name) not in HUBSPOT_STAGES_READ:
            # the contacts stream reads the entry date of HubSpot's standard stages only
            report.warnings.append(f"sources.hubspot.lead_stages[{i}]: {name!r} is a custom stage; the pipeline "
                                   f"reads when contacts entered the standard stages only, so it adds no leads")
    return f"{len(options)} lifecycle stages"


def check_google_ads_version(settings: Settings, today: dt.date, report: NameReport) -> None:
    """The configured (or default) API version against Google's sunset dates."""
    configured = settings.sources.google_ads.api_version
    notice = google_ads.version_notice(configured or google_ads.DEFAULT_VERSION, today)
    if notice is None:
        return
    kind, text = notice
    where = "sources.google_ads.api_version" if configured else \
        "sources.google_ads.api_version (unset: the connector's default; upgrade kpi-pipeline)"
    (report.errors if kind == "error" else report.warnings).append(f"{where}: {text}")


CHECKS: dict[str, Callable[[Any, Settings, NameReport], str]] = {"calendly": check_calendly,
                                                                  "hubspot": check_hubspot}


def check_names(settings: Settings, as_of: dt.date, today: dt.date, skip: set[str],
                say: Callable[[str], None]) -> NameReport:
    """Fetch what each enabled account defines and compare the configured names with it; say
    one line per source (``skip``: sources whose credentials already failed)."""
    report = NameReport()
    enabled = settings.enabled_sources()
    if "google_ads" in enabled:
        check_google_ads_version(settings, today, report)
    for source, check in CHECKS.items():
        if source not in enabled or source in skip:
            continue
        before = len(report.errors)
        try:
            found = check(connect_source(source, source_settings(settings, source, as_of)), settings, report)
        except (ConnectorError, ConfigError) as err:
            report.failed[source] = err
            say(f"  x {source}: could not read the account's names: {err}")
            continue
        if len(report.errors) == before:
            say(f"  ok {source}: every configured name is one of the account's ({found})")
    for line in report.errors:
        say(f"  x {line}")
    return report

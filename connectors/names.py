"""What a platform's `kpi check --online` name checks share (README.md#what-the-numbers-mean,
"Names match whole"): a name kpi.yaml takes from a platform must be a name the account has.

A platform's ``connector.py`` may define ``check_names(client, settings) -> NameCheck`` (fetch
what the account defines, compare the configured names) and ``check_settings(settings, today)
-> NameCheck`` (a setting judged without a request, such as an API version near its sunset).
Names compare whole, case-insensitive and trimmed, as the KPI models compare them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass
class NameCheck:
    """What one platform's check found: errors refuse the configuration, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    found: str = ""  # what the account has, in words ("3 event types")


class NameChecks(NamedTuple):
    """The checks a platform's connector defines (None: it defines none of that kind); the
    registry reads them (:meth:`connectors.registry.Platform.name_checks`)."""

    settings: Callable[[Any, dt.date], NameCheck] | None  # check_settings(settings, today)
    names: Callable[[Any, Any], NameCheck] | None  # check_names(client, settings)


def norm(name: str) -> str:
    """A name as the models compare it: trimmed and lower-case."""
    return name.strip().lower()


def unknown_names(
    path: str,
    configured: list[str],
    known: dict[str, str],
    what: str,
    hint: Callable[[str], str] = lambda name: "",
) -> list[str]:
    """One message per configured name that is not a key of ``known`` (normalized name -> how
    the account shows it), naming its YAML path and listing what the account has."""
    listing = ", ".join(known.values()) or "none"
    return [
        f"{path}[{i}]: {name!r} is not {what}{hint(name)}; it has: {listing}"
        for i, name in enumerate(configured)
        if norm(name) not in known
    ]

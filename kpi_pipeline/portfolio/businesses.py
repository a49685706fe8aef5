"""Many businesses in one deployment: ``<root>/businesses/<slug>/kpi.yaml`` (each with its own
``.env`` and ``data/``), one Dagster code location per business, one instance for all.

Why a code location per business (README "Portfolio"): a location is loaded in its own process,
so one business's broken kpi.yaml is an error on that location only and the others load and run;
its ``.env`` (credentials) is read by its own processes only; each location has its own nightly
schedule in the business's timezone. The run queue and the pools are the instance's, so they
limit all businesses together. Asset keys are one namespace per instance, so a business's keys
start with its slug (``studio_lumen/raw/mailchimp__lists``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kpi_pipeline.config.settings import BUSINESSES_DIR, SLUG, ConfigError, Settings, load_config

PORTFOLIO_LOCATION = "portfolio"  # the location of the cross-business assets (the portfolio copy)
# <root>/data/: not "portfolio.duckdb", whose catalog name clashes with the schema: every business's
# published tables
PORTFOLIO_FILE = "portfolio_analytics.duckdb"


@dataclass(frozen=True)
class Business:
    slug: str
    config_path: Path

    def load(self) -> Settings:
        return load_config(self.config_path)


def portfolio_root(start: Path | None = None) -> Path | None:
    """The portfolio folder: env ``KPI_PORTFOLIO``, else the current folder when it holds
    businesses/."""
    value = os.environ.get("KPI_PORTFOLIO")
    if value:
        return Path(value).resolve()
    here = (start or Path.cwd()).resolve()
    return here if (here / BUSINESSES_DIR).is_dir() else None


def businesses(root: Path) -> list[Business]:
    """Every ``businesses/<slug>/kpi.yaml`` under ``root``, by slug."""
    folder = root / BUSINESSES_DIR
    if not folder.is_dir():
        return []
    return [Business(p.parent.name, p) for p in sorted(folder.glob("*/kpi.yaml"))]


def select(root: Path, slugs: list[str]) -> list[Business]:
    """The businesses named (all when none is); raises ValueError naming an unknown slug."""
    found = businesses(root)
    if not found:
        raise ValueError(f"{root / BUSINESSES_DIR}: no business folder with a kpi.yaml")
    by_slug = {b.slug: b for b in found}
    unknown = [s for s in slugs if s not in by_slug]
    if unknown:
        raise ValueError(
            f"--business: {', '.join(unknown)} not in {root / BUSINESSES_DIR} "
            f"({', '.join(by_slug)})"
        )
    bad = [b.slug for b in found if not SLUG.match(b.slug)]
    if bad and not slugs:
        raise ValueError(
            f"{root / BUSINESSES_DIR}: folder(s) {', '.join(bad)} are not business slugs "
            "(lower case letters, digits and _)"
        )
    return [by_slug[s] for s in dict.fromkeys(slugs)] if slugs else found


def instance_home(root: Path) -> Path:
    """The portfolio's one Dagster instance (env DAGSTER_HOME overrides)."""
    return Path(os.environ.get("DAGSTER_HOME") or root / ".dagster").resolve()


def portfolio_copy_path(root: Path) -> Path:
    return root / "data" / PORTFOLIO_FILE


# ---------------------------------------------------------------------------- Dagster wiring

LOCATION_FILE = """\
# Written by kpi-pipeline (kpi init-instance): the code location of one business of the portfolio.
from kpi_pipeline.portfolio.businesses import business_definitions

defs = business_definitions({config!s})
"""
PORTFOLIO_LOCATION_FILE = """\
# Written by kpi-pipeline (kpi init-instance): the portfolio's own assets (the analysts' portfolio copy).
from kpi_pipeline.portfolio.defs import portfolio_definitions

defs = portfolio_definitions({root!s})
"""  # noqa: E501


def business_definitions(config_path: str):  # noqa: ANN201 - dagster.Definitions, imported lazily
    from kpi_pipeline.orchestration.defs import build_definitions  # late: Dagster, ~1.2 s

    return build_definitions(load_config(config_path))


def write_workspace(root: Path, home: Path) -> Path:
    """DAGSTER_HOME/workspace.yaml with a code location per business (and one for the portfolio):
    each location a small generated file that loads its own kpi.yaml, so the run workers Dagster
    starts for it load the same business."""
    project = Path(__file__).resolve().parents[2]
    folder = home / "locations"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    files = {
        f"{b.slug}.py": LOCATION_FILE.format(config=json.dumps(str(b.config_path.resolve())))
        for b in businesses(root)
        if SLUG.match(b.slug)
    }
    files[f"{PORTFOLIO_LOCATION}.py"] = PORTFOLIO_LOCATION_FILE.format(
        root=json.dumps(str(root.resolve()))
    )
    for name, text in files.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        entries.append(
            "  - python_file:\n"
            f"      relative_path: {json.dumps(str(path))}\n"
            f"      working_directory: {json.dumps(str(project))}\n"
            f"      location_name: {json.dumps(name.removesuffix('.py'))}\n"
        )
    for stale in folder.glob("*.py"):  # a business whose folder was removed
        if stale.name not in files:
            stale.unlink()
    workspace = home / "workspace.yaml"
    text = (
        "# Written by kpi-pipeline (kpi init-instance): a code location per business of the "
        "portfolio.\n"
        "load_from:\n" + "".join(entries)
    )
    if not workspace.exists() or workspace.read_text() != text:
        workspace.write_text(text)
    return workspace


def load_all(found: list[Business]) -> tuple[dict[str, Settings], dict[str, ConfigError]]:
    """Each business's settings, or its config error: one bad kpi.yaml never hides the others."""
    good: dict[str, Settings] = {}
    bad: dict[str, ConfigError] = {}
    for business in found:
        try:
            good[business.slug] = business.load()
        except ConfigError as err:
            bad[business.slug] = err
    return good, bad

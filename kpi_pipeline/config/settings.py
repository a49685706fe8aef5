"""kpi.yaml -> validated settings.

``${NAME}`` is read from the environment (and a ``.env`` beside kpi.yaml). An invalid file
is refused as a whole: :class:`ConfigError` lists every problem with its YAML path.
Secrets are kept as ``SecretStr`` and registered for redaction; they are never printed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator

from connectors.http import register_secret
from connectors.registry import platforms
from connectors.settings import SourceBase, Strict
from kpi_pipeline.config.sources import CREDENTIAL_FIELDS, SOURCE_MODELS, Sources
from kpi_pipeline.config.targets import check_targets, known_kpis
from kpi_pipeline.config.yaml_file import ConfigError, interpolate, read_yaml
from kpi_pipeline.kpi.catalog import KpiDef, builtin_kpis
from kpi_pipeline.kpi.periods import WEEKDAYS
from kpi_pipeline.warehouse.storage import PUBLISHED_FILE

BUSINESSES_DIR = (
    "businesses"  # a portfolio: <root>/businesses/<slug>/kpi.yaml, one folder per business
)
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# platforms whose accounts share one rate limit per app or token: one Dagster pool each (README
# "Portfolio"), and its slots, set in the instance when it has none (`dagster instance concurrency
# set` changes them); each platform's package declares its POOL
API_POOLS = {name: p.pool for name, p in platforms().items()}
API_POOL_LIMITS = {p.pool: p.pool_slots for p in platforms().values()}
WRITER_POOL = "duckdb"


def portfolio_folder(config_path: Path) -> str | None:
    """The business's folder name when ``config_path`` is
    ``<root>/businesses/<folder>/kpi.yaml``."""
    # remembered: every row the calendar and the snapshots write asks for the business id, and
    # resolving the path each time was 0.8 s of a one-source nightly run (docs/ARCHITECTURE.md)
    return _portfolio_folder(config_path, None if config_path.is_absolute() else os.getcwd())


@lru_cache(maxsize=64)
def _portfolio_folder(config_path: Path, cwd: str | None) -> str | None:
    folder = (Path(cwd, config_path) if cwd else config_path).resolve().parent
    return folder.name if folder.parent.name == BUSINESSES_DIR else None


class Labels(Strict):
    """A label per report language: ``{en: Treatments performed, nl:
    Uitgevoerde behandelingen}``."""

    en: str = Field(min_length=1)
    nl: str | None = None


class CustomKpi(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    label: str | Labels  # one text, or one per language
    domain: Literal["marketing", "sales", "production", "customer_service", "hr"]
    unit: Literal["count", "ratio", "currency"] = "count"
    aggregation: Literal["sum", "last"] = "sum"
    direction: Literal["higher", "lower"] = "higher"
    description: str = ""
    decimals: int | None = Field(default=None, ge=0, le=4)

    def kpi(self) -> KpiDef:
        labels = self.label if isinstance(self.label, Labels) else Labels(en=self.label)
        return KpiDef(
            **self.model_dump(exclude={"label"}),
            label=labels.en,
            label_nl=labels.nl,
            sources=("manual",),
        )


class Schedule(Strict):
    nightly_at: str = Field(default="03:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class StatusRules(Strict):
    at_risk_within: float = Field(default=0.10, ge=0, lt=1)
    too_early_before: float = Field(default=0.20, ge=0, lt=1)


class Alerts(Strict):
    webhook_url: SecretStr | None = None  # Slack-compatible incoming webhook: a secret
    report_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$"
    )  # where alerts link the scorecard


class Settings(Strict):
    """The validated kpi.yaml (plus where it lives)."""

    business: str = Field(min_length=1)
    timezone: str = "Europe/Brussels"
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    week_start: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    demo: bool = False
    warehouse: str = "data/warehouse.duckdb"
    history_start: dt.date
    schedule: Schedule = Schedule()
    language: Literal["en", "nl"] = "en"
    status: StatusRules = StatusRules()
    sources: Sources = Sources()
    custom_kpis: list[CustomKpi] = []
    # currency -> how many units of the business currency one unit of it is worth
    fx: dict[str, float] = {}
    conversion_window_days: int = Field(default=90, ge=1, le=730)
    sandbox_seed: int = Field(default=7, ge=0)  # demo mode: which seeded world the sandbox serves
    targets: dict[str, dict[str, Any]] = {}
    alerts: Alerts = Alerts()

    # not from YAML
    config_path: Path = Path("kpi.yaml")
    missing_env: list[tuple[str, str]] = []

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name like Europe/Brussels)"
            ) from None
        return value

    @field_validator("fx")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for currency, rate in value.items():
            if not re.fullmatch(r"[A-Z]{3}", str(currency)):
                raise ValueError(f"{currency!r}: not a currency code (three capitals, like USD)")
            if not math.isfinite(rate) or rate <= 0:
                raise ValueError(f"{currency}: the rate must be a positive number")
        return value

    # ------------------------------------------------------------------ derived

    @property
    def slug(self) -> str | None:
        """The business's folder name when kpi.yaml lives in a portfolio (businesses/<slug>/),
        else None."""
        return portfolio_folder(self.config_path)

    @property
    def business_id(self) -> str:
        # in a portfolio the folder name: unique by construction, and what --business names
        return (
            self.slug or re.sub(r"[^a-z0-9]+", "_", self.business.lower()).strip("_") or "business"
        )

    @property
    def portfolio_root(self) -> Path | None:
        return self.config_path.resolve().parents[2] if self.slug else None

    @property
    def key_prefix(self) -> list[str]:
        """Asset keys are one namespace per Dagster instance:
        a portfolio's carry the business first."""
        return [self.slug] if self.slug else []

    @property
    def writer_pool(self) -> str:
        """The one-slot pool of the steps that write this business's warehouse."""
        return f"{WRITER_POOL}_{self.slug}" if self.slug else WRITER_POOL

    def stream_pool(self, source: str) -> str:
        """A raw stream's pool: in a portfolio the platform's (its rate limit is shared by every
        account of the app), the load itself then waits on the warehouse's file lock; alone,
        the writer pool."""
        return API_POOLS[source] if self.slug else self.writer_pool

    def pools(self) -> list[str]:
        return sorted({self.writer_pool, *(self.stream_pool(s) for s in self.enabled_sources())})

    @property
    def base_dir(self) -> Path:
        return self.config_path.resolve().parent

    @property
    def warehouse_path(self) -> Path:
        # not in a portfolio: one KPI_WAREHOUSE for every business would mix them in one file
        value = (None if self.slug else os.environ.get("KPI_WAREHOUSE")) or self.warehouse
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    @property
    def published_path(self) -> Path:
        # not "kpis.duckdb": a file of that name opens as catalog "kpis", which makes every
        # query of the kpis schema ambiguous in DuckDB ("Ambiguous reference to catalog or schema")
        return self.warehouse_path.with_name(PUBLISHED_FILE)

    @property
    def reports_dir(self) -> Path:
        return self.warehouse_path.parent / "reports"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def enabled_sources(self) -> dict[str, SourceBase]:
        return {name: block for name in SOURCE_MODELS if (block := self.source(name)) is not None}

    def source(self, name: str) -> SourceBase | None:
        """The settings block of a source, None when it is not configured."""
        block = getattr(self.sources, name, None)
        return block if isinstance(block, SourceBase) else None

    def kpis(self) -> tuple[KpiDef, ...]:
        """Built-in KPIs whose sources are all enabled, plus the custom ones."""
        enabled = set(self.enabled_sources())
        builtin = tuple(
            k.model_copy(update={"sources": tuple(s for s in k.sources if s in enabled)})
            if k.any_source
            else k
            for k in builtin_kpis()
            if (set(k.sources) & enabled if k.any_source else set(k.sources) <= enabled)
        )
        custom = tuple(c.kpi() for c in self.custom_kpis)
        return builtin + custom

    def default_as_of(self, today: dt.date | None = None) -> dt.date:
        """Yesterday in the business timezone."""
        today = today or dt.datetime.now(self.tz).date()
        return today - dt.timedelta(days=1)


# ---------------------------------------------------------------------------- loading


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate kpi.yaml (``path``, else env ``KPI_CONFIG``, else ./kpi.yaml).

    Raises:
        ConfigError: listing every problem with its YAML path.
    """
    config_path = Path(path or os.environ.get("KPI_CONFIG") or "kpi.yaml")
    if not config_path.is_file():
        raise ConfigError(
            str(config_path), [("(file)", "not found; pass --config PATH or set KPI_CONFIG")]
        )
    raw, duplicates = read_yaml(config_path)
    if not isinstance(raw, dict):
        raise ConfigError(
            str(config_path), [*duplicates, ("(file)", "expected a mapping at the top level")]
        )

    own = {k: v for k, v in dotenv_values(config_path.parent / ".env").items() if v is not None}
    # a portfolio's business reads its own .env first: the same ${STRIPE_API_KEY} differs per
    # business, and a value in the environment must not leak into a business whose .env sets its own
    folder = portfolio_folder(config_path)
    env = {**os.environ, **own} if folder is not None else {**own, **os.environ}
    missing: list[tuple[str, str]] = []
    data = interpolate(raw, "", env, missing)

    problems: list[tuple[str, str]] = list(duplicates)
    if folder is not None and not SLUG.match(folder):
        problems.append(
            (
                "(folder)",
                f"{folder!r} is not a business slug: name the folder "
                "in lower case letters, digits and _ (it is the business's id and --business)",
            )
        )
    sources = data.get("sources") or {}
    if isinstance(sources, dict):
        for name in list(sources):
            if name not in SOURCE_MODELS:
                problems.append(
                    (f"sources.{name}", f"unknown source; known: {', '.join(SOURCE_MODELS)}")
                )
                sources.pop(name)
    targets = data.pop("targets", {}) or {}
    settings: Settings | None = None
    try:
        settings = Settings(**data, config_path=config_path, missing_env=missing)
    except ValidationError as err:
        for e in err.errors():
            msg = e["msg"].removeprefix("Value error, ")
            problems.append((_loc(e["loc"]) or "(file)", msg))
    if not isinstance(targets, dict):
        problems.append(("targets", "expected a mapping of KPI id -> grain -> target"))
    else:
        problems.extend(
            check_targets(
                targets, known_kpis(data, settings), settings.week_start if settings else "monday"
            )
        )
    if settings is not None:
        custom_ids = [c.id for c in settings.custom_kpis]
        for i, cid in enumerate(custom_ids):
            if cid in {k.id for k in builtin_kpis()} or custom_ids.count(cid) > 1:
                problems.append((f"custom_kpis.{i}.id", f"{cid!r} is already a KPI id"))
    if problems or settings is None:
        if not data.get("demo"):  # all at once: the missing credentials too
            problems.extend(_missing_credentials_raw(data, missing))
        raise ConfigError(str(config_path), problems)
    settings.targets = {k: {str(g): v for g, v in grains.items()} for k, grains in targets.items()}
    for block in settings.enabled_sources().values():
        for value in block.__dict__.values():
            if isinstance(value, SecretStr):
                register_secret(value.get_secret_value())
    if settings.alerts.webhook_url:
        register_secret(settings.alerts.webhook_url.get_secret_value())
    return settings


def _missing_credentials_raw(
    data: dict[str, Any], missing_env: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Missing credentials of a file that did not validate, as (yaml path, message)."""
    out = [
        (path, f"credential not set (${{{var}}} is not set)")
        for path, var in missing_env
        if path.startswith("sources.")
    ]
    raw = data.get("sources")
    sources = raw if isinstance(raw, dict) else {}
    for name, block in sources.items():
        if name not in CREDENTIAL_FIELDS or block is None:
            continue
        block = block if isinstance(block, dict) else {}
        for field in CREDENTIAL_FIELDS[name]:
            path = f"sources.{name}.{field}"
            if not block.get(field) and not any(p == path for p, _ in out):
                out.append((path, "credential not set"))
    return out


def missing_credentials(settings: Settings) -> list[str]:
    """YAML paths of credentials that are not set (env var absent or value empty)."""
    if settings.demo:
        return []
    out = [
        f"{path} (${{{var}}} is not set)"
        for path, var in settings.missing_env
        if path.startswith("sources.")
    ]
    for name, block in settings.enabled_sources().items():
        for field in CREDENTIAL_FIELDS.get(name, ()):
            path = f"sources.{name}.{field}"
            if getattr(block, field) is None and not any(p.startswith(path) for p in out):
                out.append(f"{path} (not set)")
    return out

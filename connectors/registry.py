"""Which platforms exist: found, never listed.

A platform is a package under ``connectors/`` whose ``__init__`` declares it (README "Adding a
connector"); the folders named in ``$KPI_CONNECTORS_PATH`` (``os.pathsep``-separated) are searched
too, so a connector can live outside the repository (a test fixture's does). Its
``__init__`` is cheap to import: ``PLATFORM``, ``SETTINGS``, ``NAMES``, ``POOL``, and optionally
``CREDENTIALS``, ``ORDER``, ``parameters``, ``INPUT_FILE``. Its ``connector`` module (``connect``,
``STREAMS``,
``PROBE``, optionally ``check_names`` and ``check_settings``: connectors/names.py) loads the
platform's SDK and is imported only when a stream is asked for.
Beside them: ``emulator.py`` (the sandbox's), ``staging/*.sql`` with their ``checks.yml``, and
optionally ``kpis.yml`` (catalog entries of KPIs only this platform feeds).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import connectors
from connectors.names import NameChecks
from connectors.settings import SourceBase
from connectors.streams import StreamSpec

PATH_ENV = "KPI_CONNECTORS_PATH"
DEFAULT_POOL_SLOTS = 4


@dataclass(frozen=True)
class Platform:
    """One platform as its package declares it."""

    name: str  # the key under `sources:` and the prefix of its raw tables
    package: str  # the package's import name
    folder: Path
    settings: type[SourceBase]  # its block of kpi.yaml
    names: dict[str, str]  # language -> the name the reports show
    pool: str  # the Dagster pool its streams share with every account of the app
    pool_slots: int
    credentials: tuple[
        str, ...
    ] = ()  # settings that are secrets (redacted; `kpi check` wants them)
    order: int = 100  # its place in lists (marketing, sales, then the CSV; a new one last)
    parameters: Callable[[Any], list[tuple[str, str]]] | None = None  # settings its SQL reads
    input_file: str | None = (
        None  # the setting naming a file the owner keeps: its refusal is bad input
    )

    def connector(self) -> ModuleType:
        """The module with ``connect``, ``STREAMS`` and ``PROBE`` (imports the platform's SDK)."""
        return importlib.import_module(f"{self.package}.connector")

    def name_checks(self) -> NameChecks:
        """Its connector's `kpi check --online` name checks, those it defines
        (connectors/names.py)."""
        module = self.connector()
        return NameChecks(
            getattr(module, "check_settings", None), getattr(module, "check_names", None)
        )

    def emulator(self) -> ModuleType | None:
        """The sandbox's emulator of it, when the package has one."""
        if not (self.folder / "emulator.py").exists():
            return None
        return importlib.import_module(f"{self.package}.emulator")

    @property
    def staging(self) -> Path:
        """Its staging models (``staging/*.sql``, checks in ``staging/checks.yml``)."""
        return self.folder / "staging"

    @property
    def kpis_file(self) -> Path:
        """Catalog entries of the KPIs only this platform feeds (optional)."""
        return self.folder / "kpis.yml"


_HOME = list(connectors.__path__)  # the shipped platforms' folder


def _search_path() -> list[str]:
    extra = [str(Path(p).resolve()) for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p]
    for folder in extra:  # a folder of the env var: its packages import as connectors.<name>
        if folder not in connectors.__path__:
            connectors.__path__.append(folder)
    return [*_HOME, *extra]  # searched: the shipped folder and those the env var names now


def _declared(module: ModuleType) -> Platform:
    missing = [a for a in ("PLATFORM", "SETTINGS", "NAMES", "POOL") if not hasattr(module, a)]
    if missing:
        raise ImportError(
            f"{module.__name__} declares no {', '.join(missing)} (README: Adding a connector)"
        )
    pool = module.POOL if isinstance(module.POOL, tuple) else (module.POOL, DEFAULT_POOL_SLOTS)
    return Platform(
        name=module.PLATFORM,
        package=module.__name__,
        folder=Path(module.__file__ or "").parent,
        settings=module.SETTINGS,
        names=dict(module.NAMES),
        pool=pool[0],
        pool_slots=pool[1],
        credentials=tuple(getattr(module, "CREDENTIALS", ())),
        order=getattr(module, "ORDER", 100),
        parameters=getattr(module, "parameters", None),
        input_file=getattr(module, "INPUT_FILE", None),
    )


@lru_cache(maxsize=8)
def _platforms(path: tuple[str, ...]) -> dict[str, Platform]:
    found = []
    for info in pkgutil.iter_modules(list(path), "connectors."):
        if not info.ispkg:
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "PLATFORM"):  # the sandbox and shared packages declare none
            found.append(_declared(module))
    names = [p.name for p in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ImportError(f"platform declared twice: {', '.join(twice)}")
    return {p.name: p for p in sorted(found, key=lambda p: (p.order, p.name))}


def platforms() -> dict[str, Platform]:
    """Every platform found, in list order."""
    return _platforms(tuple(_search_path()))


def platform(source: str) -> Platform:
    """One platform; an unknown one lists the known ones."""
    try:
        return platforms()[source]
    except KeyError:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(platforms())}") from None


def streams(source: str) -> dict[str, StreamSpec]:
    """The stream specs of a source; an unknown source lists the known ones."""
    return platform(source).connector().STREAMS


def connect(source: str, settings: dict[str, Any]) -> Any:
    """A client of ``source`` for its settings."""
    return platform(source).connector().connect(settings)


def probe(source: str) -> str:
    """The stream `kpi check --online` tries."""
    return platform(source).connector().PROBE


def sources() -> dict[str, tuple[Callable[[dict[str, Any]], Any], dict[str, StreamSpec]]]:
    """source name -> (connect function, stream specs), every connector imported."""
    return {name: (p.connector().connect, p.connector().STREAMS) for name, p in platforms().items()}


def __getattr__(name: str) -> Any:
    # SOURCES as before, built when first asked for: it imports every connector's SDK
    if name == "SOURCES":
        return sources()
    raise AttributeError(name)

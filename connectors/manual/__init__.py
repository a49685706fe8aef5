"""The hand-kept CSV: ``date,kpi_id,value[,dimension_value]`` (README "Hand-kept numbers (CSV)").

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from connectors.settings import SourceBase


class Settings(SourceBase):
    path: str = "data/manual_metrics.csv"


PLATFORM = "manual"
SETTINGS = Settings
NAMES = {"en": "CSV", "nl": "CSV"}
POOL = ("api_manual", 4)
ORDER = 90

"""The hand-kept CSV: ``date,kpi_id,value[,dimension_value]`` (README "Hand-kept numbers (CSV)").

The declaration the registry reads (README "Adding a connector"); ``connector.py`` reads the
file, ``staging/`` its SQL. No emulator: the file is the same in demo mode.
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
# the owner's own file: a refused one is bad input (`kpi sync` exits 2), not a failed platform
INPUT_FILE = "path"

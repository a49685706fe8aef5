"""Google Analytics 4: visitors and sessions (docs/PLATFORMS.md#ga4).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from pydantic import Field

from connectors.settings import SourceBase


class Settings(SourceBase):
    property_id: str = Field(pattern=r"^\d{4,20}$")
    credentials_file: str | None = None


PLATFORM = "ga4"
SETTINGS = Settings
CREDENTIALS = ("credentials_file",)
NAMES = {"en": "Google Analytics", "nl": "Google Analytics"}
POOL = ("api_ga4", 4)
ORDER = 20

"""HubSpot: contacts (leads) and deals from the CRM (docs/PLATFORMS.md#hubspot).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from connectors.names import norm
from connectors.settings import SourceBase


class Settings(SourceBase):
    token: SecretStr | None = None
    lead_stages: list[str] = Field(
        default=["lead", "marketingqualifiedlead", "salesqualifiedlead"], min_length=1
    )


PLATFORM = "hubspot"
SETTINGS = Settings
CREDENTIALS = ("token",)
NAMES = {"en": "HubSpot", "nl": "HubSpot"}
POOL = ("api_hubspot", 4)
ORDER = 80


def parameters(settings: Settings) -> list[tuple[str, str]]:
    """Rows of kpis.parameters its SQL reads: the lifecycle stages that make a lead."""
    return [("lead_stage", norm(value)) for value in settings.lead_stages]

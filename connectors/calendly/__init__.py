"""Calendly: scheduled meetings and their invitees (docs/PLATFORMS.md#calendly).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from connectors.names import norm
from connectors.settings import SourceBase


class Settings(SourceBase):
    token: SecretStr | None = None
    user: str | None = None
    organization: str | None = None
    intro_call_event_types: list[str] = Field(default=["Intro call"], min_length=1)


PLATFORM = "calendly"
SETTINGS = Settings
CREDENTIALS = ("token",)
NAMES = {"en": "Calendly", "nl": "Calendly"}
POOL = ("api_calendly", 4)
ORDER = 70


def parameters(settings: Settings) -> list[tuple[str, str]]:
    """Rows of kpis.parameters its SQL reads: the intro-call event types, compared whole."""
    return [("intro_call_event_type", norm(value)) for value in settings.intro_call_event_types]

"""Instagram: a professional account's followers and reach (docs/PLATFORMS.md#instagram).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``staging/`` its SQL. No emulator of its own: Meta's (``meta_ads/emulator.py``) serves
the same Graph API host.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from connectors.settings import SourceBase


class Settings(SourceBase):
    user_id: str = Field(pattern=r"^\d{5,25}$")
    access_token: SecretStr | None = None
    api_version: str = Field(default="v23.0", pattern=r"^v\d{2}\.0$")


# the same Graph API app as Meta Ads: its pool
PLATFORM = "instagram"
SETTINGS = Settings
CREDENTIALS = ("access_token",)
NAMES = {"en": "Instagram", "nl": "Instagram"}
POOL = ("api_meta", 2)
ORDER = 50

"""Meta Ads: campaign insights over the Graph API (docs/PLATFORMS.md#meta-ads).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from connectors.settings import SourceBase


class Settings(SourceBase):
    ad_account_id: str = Field(pattern=r"^(act_)?\d{3,25}$")
    access_token: SecretStr | None = None
    api_version: str = Field(default="v23.0", pattern=r"^v\d{2}\.0$")


# Meta's app-level usage is shared by every account of the app: one pool with Instagram, 2 slots
PLATFORM = "meta_ads"
SETTINGS = Settings
CREDENTIALS = ("access_token",)
NAMES = {"en": "Meta Ads", "nl": "Meta Ads"}
POOL = ("api_meta", 2)
ORDER = 30

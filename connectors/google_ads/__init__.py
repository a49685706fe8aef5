"""Google Ads: campaign days over REST (docs/PLATFORMS.md#google-ads).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from connectors.settings import SourceBase


class Settings(SourceBase):
    customer_id: str = Field(pattern=r"^\d{3}-?\d{3}-?\d{4}$")
    developer_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    login_customer_id: str | None = Field(default=None, pattern=r"^\d{3}-?\d{3}-?\d{4}$")
    token_uri: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # unset: the connector's default, which follows Google's supported versions
    api_version: str | None = Field(default=None, pattern=r"^v\d{2}$")


# the developer token's quota is shared by every account of the app: 2 slots
PLATFORM = "google_ads"
SETTINGS = Settings
CREDENTIALS = ("developer_token", "client_id", "client_secret", "refresh_token")
NAMES = {"en": "Google Ads", "nl": "Google Ads"}
POOL = ("api_google_ads", 2)
ORDER = 40

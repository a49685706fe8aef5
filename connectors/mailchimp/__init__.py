"""Mailchimp: e-mail campaigns and the audience (docs/PLATFORMS.md#mailchimp).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from pydantic import SecretStr

from connectors.settings import SourceBase


class Settings(SourceBase):
    api_key: SecretStr | None = None


PLATFORM = "mailchimp"
SETTINGS = Settings
CREDENTIALS = ("api_key",)
NAMES = {"en": "Mailchimp", "nl": "Mailchimp"}
POOL = ("api_mailchimp", 4)
ORDER = 10

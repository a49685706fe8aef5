"""Stripe: charges, invoices and the balance (docs/PLATFORMS.md#stripe).

The declaration the registry reads (README "Adding a connector"); ``connector.py`` talks to
the API, ``emulator.py`` is the sandbox's, ``staging/`` its SQL.
"""

from __future__ import annotations

from pydantic import SecretStr

from connectors.settings import SourceBase


class Settings(SourceBase):
    api_key: SecretStr | None = None


PLATFORM = "stripe"
SETTINGS = Settings
CREDENTIALS = ("api_key",)
NAMES = {"en": "Stripe", "nl": "Stripe"}
POOL = ("api_stripe", 4)
ORDER = 60

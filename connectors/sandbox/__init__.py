"""Offline emulation of every platform's API on 127.0.0.1, served from one seeded world.

``Sandbox(as_of)`` starts one HTTP server per platform on an ephemeral loopback port;
``settings_for(source)`` gives a connector everything it needs to talk to it (base URL and
the sandbox's credentials). ``shared_sandbox(as_of)`` keeps one per process for demo mode.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Any

from connectors.sandbox import ga4, google_ads, mailchimp, meta, sales
from connectors.sandbox.world import World, get_world

CREDENTIALS: dict[str, dict[str, Any]] = {
    "mailchimp": {"api_key": mailchimp.API_KEY},
    "ga4": {"property_id": ga4.PROPERTY_ID},
    "meta_ads": {"ad_account_id": meta.AD_ACCOUNT, "access_token": meta.ACCESS_TOKEN},
    "instagram": {"user_id": meta.IG_USER, "access_token": meta.ACCESS_TOKEN},
    "google_ads": {"customer_id": google_ads.CUSTOMER_ID, "developer_token": google_ads.DEVELOPER_TOKEN,
                   "client_id": google_ads.CLIENT_ID, "client_secret": google_ads.CLIENT_SECRET,
                   "refresh_token": google_ads.REFRESH_TOKEN},
    "stripe": {"api_key": sales.STRIPE_KEY},
    "calendly": {"token": sales.CALENDLY_TOKEN},
    "hubspot": {"token": sales.HUBSPOT_TOKEN},
}


class Sandbox:
    """All emulated platforms for one world."""

    def __init__(self, as_of: dt.date, seed: int = 7, audience: int = 0, latency: float = 0.0) -> None:
        self.world: World = get_world(as_of, seed)
        self.mailchimp = mailchimp.MailchimpEmulator(self.world, audience)  # audience: benchmarks' big list
        self.ga4 = ga4.Ga4Emulator(self.world)
        self.meta = meta.MetaEmulator(self.world)
        self.google_ads = google_ads.GoogleAdsEmulator(self.world)
        self.stripe = sales.StripeEmulator(self.world)
        self.calendly = sales.CalendlyEmulator(self.world)
        self.hubspot = sales.HubSpotEmulator(self.world)
        self.servers = {"mailchimp": self.mailchimp.server, "ga4": self.ga4.server, "meta_ads": self.meta.server,
                        "google_ads": self.google_ads.server, "stripe": self.stripe.server,
                        "calendly": self.calendly.server, "hubspot": self.hubspot.server}
        self.servers["instagram"] = self.meta.server  # the same Graph API host
        for server in self.servers.values():
            server.latency = latency  # benchmarks: each answer as late as a real platform's
        self.urls: dict[str, str] = {}

    def start(self) -> Sandbox:
        roots: dict[int, str] = {}
        for name, server in self.servers.items():
            root = roots.get(id(server)) or server.start()
            roots[id(server)] = root
            self.urls[name] = root + ("/3.0" if name == "mailchimp" else "")
        self.ga4.write_credentials(self.urls["ga4"])
        return self

    def settings_for(self, source: str) -> dict[str, Any]:
        """Connector settings that reach this sandbox."""
        extra: dict[str, Any] = {}
        if source == "ga4":
            extra["credentials_file"] = self.ga4.credentials_file
        if source == "google_ads":
            extra["token_uri"] = self.urls["google_ads"] + "/token"
        return {**CREDENTIALS[source], **extra, "base_url": self.urls[source]}

    def stop(self) -> None:
        for server in {id(s): s for s in self.servers.values()}.values():
            server.stop()
        if self.ga4.credentials_file and os.path.exists(self.ga4.credentials_file):
            os.unlink(self.ga4.credentials_file)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: dict[tuple[dt.date, int], Sandbox] = {}
_lock = threading.Lock()


def shared_sandbox(as_of: dt.date, seed: int = 7) -> Sandbox:
    """The process's sandbox for ``as_of``, started on first use (demo mode)."""
    with _lock:
        key = (as_of, seed)
        if key not in _shared:
            _shared[key] = Sandbox(as_of, seed).start()
        return _shared[key]

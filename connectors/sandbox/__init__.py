"""Offline emulation of every platform's API on 127.0.0.1, served from one seeded world.

``Sandbox(as_of)`` starts one HTTP server per platform on an ephemeral loopback port.
``shared_sandbox(as_of)`` keeps one per process for demo mode, started on first use.
"""

from __future__ import annotations

import datetime as dt
import threading

from connectors.sandbox import mailchimp
from connectors.sandbox.world import World, get_world

CREDENTIALS = {
    "mailchimp": {"api_key": mailchimp.API_KEY},
}


class Sandbox:
    """All emulated platforms for one world; ``urls[platform]`` is each base URL."""

    def __init__(self, as_of: dt.date, seed: int = 7) -> None:
        self.world: World = get_world(as_of, seed)
        self.mailchimp = mailchimp.MailchimpEmulator(self.world)
        self.servers = {"mailchimp": self.mailchimp.server}
        self.urls: dict[str, str] = {}

    def start(self) -> "Sandbox":
        for name, server in self.servers.items():
            root = server.start()
            self.urls[name] = root + ("/3.0" if name == "mailchimp" else "")
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> "Sandbox":
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

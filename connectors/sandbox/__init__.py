"""Offline emulation of every platform's API on 127.0.0.1, served from one seeded world.

``Sandbox(as_of)`` starts one HTTP server per emulator on an ephemeral loopback port;
``settings_for(source)`` gives a connector everything it needs to talk to it (base URL and
the sandbox's credentials). ``shared_sandbox(as_of)`` keeps one per process for demo mode.

The emulators are found, not listed: each platform package's ``emulator.py`` (through the
registry) declares ``CREDENTIALS`` (source -> the settings that reach it; one emulator may
serve several sources, as Meta's serves Meta Ads and Instagram), ``emulate(world, **options)``
and optionally ``ATTRIBUTE`` (the Sandbox attribute tests use, default the platform's name) and
``BASE_PATH`` (what the connector's base_url adds to the server's root). An emulator may have
``started(url)``, ``stopped()`` and ``extra_settings(source, url)``.
"""

from __future__ import annotations

import datetime as dt
import threading
from types import ModuleType
from typing import Any

from connectors.registry import platforms
from connectors.sandbox.world import World, get_world


def emulator_modules() -> dict[str, ModuleType]:
    """platform name -> its emulator module, for every platform that has one."""
    out = {}
    for name, platform in platforms().items():
        module = platform.emulator()
        if module is not None:
            out[name] = module
    return out


def credentials() -> dict[str, dict[str, Any]]:
    """source -> the settings that reach its emulator: every emulator's ``CREDENTIALS``."""
    return {
        source: settings
        for module in emulator_modules().values()
        for source, settings in module.CREDENTIALS.items()
    }


def __getattr__(name: str) -> Any:
    # CREDENTIALS is built when first asked for, not at import: an emulator imports this package
    # (for its server), so reading every emulator here at import would make importing an emulator
    # first a circle
    if name == "CREDENTIALS":
        return credentials()
    raise AttributeError(name)


class Sandbox:
    """All emulated platforms for one world."""

    def __init__(
        self, as_of: dt.date, seed: int = 7, audience: int = 0, latency: float = 0.0
    ) -> None:
        self.world: World = get_world(as_of, seed)
        self.emulators: dict[str, Any] = {}  # attribute -> emulator
        self.servers: dict[str, Any] = {}  # source -> its emulator's server
        self._serving: dict[str, tuple[Any, str]] = {}  # source -> (emulator, base path)
        for name, module in emulator_modules().items():
            emulator = module.emulate(
                self.world, audience=audience
            )  # audience: benchmarks' big list
            self.emulators[getattr(module, "ATTRIBUTE", name)] = emulator
            for source in module.CREDENTIALS:
                self.servers[source] = emulator.server
                self._serving[source] = (emulator, getattr(module, "BASE_PATH", ""))
        for server in self.servers.values():
            server.latency = latency  # benchmarks: each answer as late as a real platform's
        self.urls: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        # sandbox.mailchimp, sandbox.meta, ...: an emulator by its attribute
        emulators = self.__dict__.get("emulators", {})
        if name in emulators:
            return emulators[name]
        raise AttributeError(name)

    def start(self) -> Sandbox:
        roots: dict[int, str] = {}
        for source, server in self.servers.items():
            root = roots.get(id(server)) or server.start()
            roots[id(server)] = root
            self.urls[source] = root + self._serving[source][1]
        for emulator in self.emulators.values():
            if hasattr(emulator, "started"):
                emulator.started(roots[id(emulator.server)])
        return self

    def settings_for(self, source: str) -> dict[str, Any]:
        """Connector settings that reach this sandbox."""
        emulator = self._serving[source][0]
        extra = (
            emulator.extra_settings(source, self.urls[source])
            if hasattr(emulator, "extra_settings")
            else {}
        )
        return {**credentials()[source], **extra, "base_url": self.urls[source]}

    def stop(self) -> None:
        for server in {id(s): s for s in self.servers.values()}.values():
            server.stop()
        for emulator in self.emulators.values():
            if hasattr(emulator, "stopped"):
                emulator.stopped()

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

"""Headless Chromium for the browser tests: Debian's package, driven by Playwright (no download).

Importing this module skips the importing test module when Chromium is missing, unless
KPI_REQUIRE_BROWSER is set (.ci/run sets it after installing chromium): then it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    if os.environ.get("KPI_REQUIRE_BROWSER"):
        raise RuntimeError(
            "the browser test needs Debian's chromium: apt-get install chromium (.ci/run does)"
        )
    pytest.skip(
        "chromium is not installed (apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT_MS = 120_000  # for a page element to appear
# the flags this machine's closed network needs: no background calls to Google's hosts
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _patient_expectations() -> None:
    """Playwright's expect() waits 5 s by default, whatever the page's own timeout: on a busy
    machine the UI's GraphQL answers take longer. Wait up to WAIT_MS instead (a hang,
    not a margin)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)


_patient_expectations()

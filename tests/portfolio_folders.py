"""Two businesses' folders in a portfolio, Alpha Bakery and Beta Yoga, each with its own .env, for
the tests of a portfolio's wiring (test_portfolio.py) and of its copy (test_portfolio_copy.py).

A helper module, not a test module, so neither test file imports the other.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def business(root: Path, slug: str, text: str, env: str | None = None) -> Path:
    folder = root / "businesses" / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kpi.yaml").write_text(textwrap.dedent(text))
    if env is not None:
        (folder / ".env").write_text(env)
    return folder / "kpi.yaml"


ALPHA = """\
business: Alpha Bakery
timezone: Pacific/Auckland
history_start: 2026-10-01
schedule: {nightly_at: "02:00"}
sources:
  mailchimp: {api_key: "${MAILCHIMP_API_KEY}", base_url: "http://127.0.0.1:9/3.0"}
  stripe: {api_key: "${STRIPE_API_KEY}", base_url: "http://127.0.0.1:9"}
"""
BETA = """\
business: Beta Yoga
timezone: America/Los_Angeles
history_start: 2026-10-01
sources:
  stripe: {api_key: "${STRIPE_API_KEY}", base_url: "http://127.0.0.1:9"}
  meta_ads: {ad_account_id: act_123456, access_token: "${META_ACCESS_TOKEN}", base_url: "http://127.0.0.1:9"}
"""


def alpha_and_beta(root: Path) -> Path:
    """``root`` as a portfolio of alpha and beta."""
    business(
        root,
        "alpha",
        ALPHA,
        "MAILCHIMP_API_KEY=alpha-mc-key-1\nSTRIPE_API_KEY=sk_alpha_only_7f3\n",
    )
    business(
        root,
        "beta",
        BETA,
        "STRIPE_API_KEY=sk_beta_only_91c\nMETA_ACCESS_TOKEN=beta-meta-token\n",
    )
    return root

"""The portfolio tests/test_portfolio_e2e.py syncs: four businesses, each with values no other
has, written in a folder and synced for real by `kpi sync --history`, a process per business."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import dagster as dg

from connectors.sandbox import CREDENTIALS
from tests.conftest import AS_OF
from tests.webhook import Receiver

OCT = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
MARKERS = {  # what only that business has; secrets are the last entries
    "zebra": ["Zebra Bakery", "Zebra loaves baked", "ZEBRA-OVEN-7731", "zebra-wh-5e1a9c"],
    "quokka": ["Quokka Yoga", "Quokka smiles counted", "QUOKKA-MAT-2208", "quokka-wh-8d2f40"],
    "yak": ["Yak Tours", "yak-wh-1b7e33", "sk_test_yak_wrong_3c9e1f"],
}
WEBHOOK = {
    "zebra": "zebra-wh-5e1a9c",
    "quokka": "quokka-wh-8d2f40",
    "yak": "yak-wh-1b7e33",
}  # secret paths
SECRETS = [*WEBHOOK.values(), "sk_test_yak_wrong_3c9e1f"]
ROOT = Path(__file__).resolve().parent.parent


def manual_rows() -> list[tuple[dt.date, int]]:
    days = [dt.date(2026, 10, 1) + dt.timedelta(days=7 * i) for i in range(7)]
    return [(day, 3 + i * 2) for i, day in enumerate(days)]


def write_business(
    root: Path, slug: str, yaml_text: str, env: str, csv_kpi: str | None = None, dimension: str = ""
) -> None:
    folder = root / "businesses" / slug
    (folder / "data").mkdir(parents=True)
    (folder / "kpi.yaml").write_text(textwrap.dedent(yaml_text))
    (folder / ".env").write_text(env)
    if csv_kpi:
        lines = [
            "date,kpi_id,value,dimension_value"
        ]  # the week's total, and the same under a dimension value
        for day, value in manual_rows():
            lines += [f"{day},{csv_kpi},{value},", f"{day},{csv_kpi},{value},{dimension}"]
        (folder / "data" / "manual.csv").write_text("\n".join(lines) + "\n")


def custom(kpi_id: str, label: str) -> str:
    return (
        f"custom_kpis:\n  - {{id: {kpi_id}, label: {label}, domain: production, aggregation: "
        f"sum}}\ntargets:\n  {kpi_id}: {{month: 100000}}\n  newsletter_new_subscribers: "
        "{month: 100000}\n"
    )


@contextlib.contextmanager
def synced_portfolio(root: Path, sandbox) -> Iterator[dict]:
    """The four businesses written under ``root`` and synced; what the tests read of them."""
    hooks = {slug: Receiver().__enter__() for slug in MARKERS}
    url = {
        slug: f"http://127.0.0.1:{hooks[slug].server.server_port}/hook/{WEBHOOK[slug]}"
        for slug in MARKERS
    }
    head = (
        "timezone: Europe/Brussels\nhistory_start: 2026-10-01\n"
        'alerts: {webhook_url: "${KPI_ALERT_WEBHOOK}"}\n'
    )
    write_business(
        root,
        "zebra",
        "business: Zebra Bakery\ndemo: true\nsandbox_seed: 7\n"
        + head
        + "sources:\n  mailchimp: {}\n  manual: {path: data/manual.csv}\n"
        + custom("zebra_loaves", "Zebra loaves baked"),
        f"KPI_ALERT_WEBHOOK={url['zebra']}\n",
        "zebra_loaves",
        "ZEBRA-OVEN-7731",
    )
    write_business(
        root,
        "quokka",
        "business: Quokka Yoga & <Co>\ndemo: true\nsandbox_seed: 11\n"
        + head
        + "sources:\n  mailchimp: {}\n  manual: {path: data/manual.csv}\n"
        + custom("quokka_smiles", "Quokka smiles counted"),
        f"KPI_ALERT_WEBHOOK={url['quokka']}\n",
        "quokka_smiles",
        "QUOKKA-MAT-2208",
    )
    write_business(
        root,
        "yak",
        "business: Yak Tours\ndemo: false\n" + head + "sources:\n"
        '  mailchimp: {api_key: "${MAILCHIMP_API_KEY}", base_url: '
        f'"{sandbox.urls["mailchimp"]}"}}\n  stripe: {{api_key: "${{STRIPE_API_KEY}}", '
        f'base_url: "{sandbox.urls["stripe"]}"}}\n',
        f"KPI_ALERT_WEBHOOK={url['yak']}\nSTRIPE_API_KEY=sk_test_yak_wrong_3c9e1f\n"
        f"MAILCHIMP_API_KEY={CREDENTIALS['mailchimp']['api_key']}\n",
    )
    write_business(
        root,
        "broken",
        "business: Broken Co\nhistory_start: 2026-10-01\nsources:\n  mailchimp: {}\n"
        "targets:\n  revenue: {month: 5}\n",
        "",
    )
    home = root / ".dagster"
    with mock.patch.dict(
        os.environ, DAGSTER_HOME=str(home)
    ):  # the operator narrows Mailchimp to one call at a time
        from kpi_pipeline.orchestration.run import ensure_portfolio_instance

        ensure_portfolio_instance(root)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.set_concurrency_slots("api_mailchimp", 1)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KPI_", "DAGSTER_", "MAILCHIMP", "STRIPE"))
    }
    env.update(KPI_TODAY=(AS_OF + dt.timedelta(days=1)).isoformat(), PYTHONPATH=str(ROOT))
    kpi = [sys.executable, "-m", "kpi_pipeline.cli"]
    sync = subprocess.run(
        [*kpi, "sync", "--history", "--as-of", AS_OF.isoformat(), "--jobs", "2"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        yield {
            "root": root,
            "sync": sync,
            "hooks": hooks,
            "run": lambda *args: in_process(root, args),
        }
    finally:
        for hook in hooks.values():
            hook.__exit__(None, None, None)


def in_process(root: Path, args: tuple[str, ...]) -> SimpleNamespace:
    """``kpi ARGS`` run in the portfolio folder by this process (a reading command: no run,
    no secret)."""
    from kpi_pipeline.cli.main import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(here)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def lines_of(output: str, slug: str) -> str:
    return "\n".join(line for line in output.splitlines() if line.startswith(f"[{slug}"))

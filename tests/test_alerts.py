"""Alerts: a KPI's turn is posted once, to a local Slack-compatible receiver;
failures never fail a run."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.reporting.alerts import announce_changes, announce_failure, post
from kpi_pipeline.warehouse.database import Warehouse
from tests.webhook import Receiver

AS_OF = dt.date(2026, 11, 18)
CSV = "date,kpi_id,value\n2026-11-02,support_tickets_solved,3\n"


@pytest.fixture
def hook():
    with Receiver() as receiver:
        yield receiver


def settings_for(tmp_path, url: str | None, extra: str = ""):
    (tmp_path / "manual.csv").write_text(CSV)
    alerts = (
        f'alerts: {{webhook_url: "{url}", report_url: "https://kpi.example.com/scorecard.html"}}\n'
        if url
        else ""
    )
    (tmp_path / "kpi.yaml").write_text(
        "business: Studio Lumen\ntimezone: Europe/Brussels\ncurrency: EUR\ndemo: false\n"
        "warehouse: data/warehouse.duckdb\nhistory_start: 2026-01-01\n"
        "sources:\n  manual: {path: manual.csv}\n"
        "custom_kpis:\n"
        "  - {id: support_tickets_solved, label: Support tickets solved, domain: customer_service, "
        "aggregation: sum}\n  - {id: staff_sick_days, label: Sick days <HR & co>, domain: hr, "
        "aggregation: sum, direction: lower}\ntargets:\n  support_tickets_solved: {week: 10, "
        "month: 40}\n  staff_sick_days: {month: 4}\n" + alerts + extra
    )
    return load_config(tmp_path / "kpi.yaml")


def snapshot(kpi, grain, start, end, actual, target, projected, status):
    return {
        "business_id": "studio_lumen",
        "kpi_id": kpi,
        "grain": grain,
        "period_start": start,
        "period_end": end,
        "actual": actual,
        "target": target,
        "projected": projected,
        "status": status,
    }


MONTH = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
WEEK = (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
LAST_WEEK = (dt.date(2026, 11, 9), dt.date(2026, 11, 15))
OLD_WEEK = (dt.date(2026, 10, 26), dt.date(2026, 11, 1))


def write(wh: Warehouse, rows: list[dict]) -> None:
    wh.write_frame("snapshots.kpi_snapshots", pd.DataFrame(rows))


def test_a_turn_is_posted_once_with_kpi_period_actual_target_projection_and_link(tmp_path, hook):
    settings = settings_for(tmp_path, hook.url)
    wh = Warehouse(str(settings.warehouse_path), settings.business_id)
    write(
        wh,
        [
            snapshot("support_tickets_solved", "month", *MONTH, 9.0, 40.0, 15.0, "off_track"),
            snapshot(
                "support_tickets_solved", "week", *WEEK, 2.0, 10.0, 7.0, "at_risk"
            ),  # not a turn
            snapshot(
                "support_tickets_solved", "week", *LAST_WEEK, 4.0, 10.0, 4.0, "missed"
            ),  # just closed
            snapshot(
                "support_tickets_solved", "week", *OLD_WEEK, 1.0, 10.0, 1.0, "missed"
            ),  # long closed
            snapshot("staff_sick_days", "month", *MONTH, 3.0, 4.0, 5.6, "off_track"),
        ],
    )
    outcome = announce_changes(wh, settings, AS_OF, sleep=lambda s: None)
    assert outcome["changes"] == 3 and outcome["delivery"].startswith("delivered")
    [message] = hook.messages
    text = message["text"]
    assert "Studio Lumen: 3 KPIs turned (as of 2026-11-18)" in text
    assert (
        "*Support tickets solved* (2026-11): off track: actual 9, target 40, projected 15" in text
    )
    assert "*Support tickets solved* (2026-W46): missed: actual 4, target 10" in text
    assert "2026-W44" not in text and "2026-W47" not in text
    assert "Sick days &lt;HR &amp; co&gt;" in text  # Slack's control characters escaped
    assert "https://kpi.example.com/scorecard.html" in text
    assert message["blocks"][0]["type"] == "header" and message["blocks"][-1]["type"] == "context"
    # the same night again: nothing new to say
    assert announce_changes(wh, settings, AS_OF, sleep=lambda s: None)["changes"] == 0
    assert len(hook.messages) == 1 and hook.attempts == 1
    # a back-dated run (a past review reproduced) announces nothing about that past
    write(
        wh,
        [
            snapshot("support_tickets_solved", "month", *MONTH, 1.0, 40.0, 3.0, "off_track"),
            snapshot("staff_sick_days", "month", *MONTH, 1.0, 4.0, 2.0, "on_track"),
        ],
    )
    outcome = announce_changes(wh, settings, AS_OF - dt.timedelta(days=5), sleep=lambda s: None)
    assert (
        outcome["changes"] == 0
        and "before 2026-11-18" in outcome["delivery"]
        and len(hook.messages) == 1
    )
    # it recovers: said once; an at_risk week going on track was never announced off track
    write(
        wh,
        [
            snapshot("support_tickets_solved", "month", *MONTH, 20.0, 40.0, 41.0, "on_track"),
            snapshot("support_tickets_solved", "week", *WEEK, 5.0, 10.0, 11.0, "on_track"),
            snapshot("support_tickets_solved", "week", *LAST_WEEK, 4.0, 10.0, 4.0, "missed"),
            snapshot("staff_sick_days", "month", *MONTH, 3.0, 4.0, 5.6, "off_track"),
        ],
    )
    assert (
        announce_changes(wh, settings, AS_OF + dt.timedelta(days=1), sleep=lambda s: None)[
            "changes"
        ]
        == 1
    )
    assert len(hook.messages) == 2
    assert (
        "*Support tickets solved* (2026-11): back on track: actual 20, target 40, projected 41"
        in hook.texts()[1]
    )
    # and turns again: a new announcement
    write(wh, [snapshot("support_tickets_solved", "month", *MONTH, 20.0, 40.0, 30.0, "off_track")])
    assert (
        announce_changes(wh, settings, AS_OF + dt.timedelta(days=2), sleep=lambda s: None)[
            "changes"
        ]
        == 1
    )
    assert wh.query("select count(*) from snapshots.alerts")[0][0] == 5


def test_no_webhook_means_no_attempt_and_the_turn_is_remembered(tmp_path, hook):
    settings = settings_for(tmp_path, None)
    wh = Warehouse(str(settings.warehouse_path), settings.business_id)
    write(wh, [snapshot("support_tickets_solved", "month", *MONTH, 9.0, 40.0, 15.0, "off_track")])
    outcome = announce_changes(wh, settings, AS_OF, sleep=lambda s: None)
    assert outcome["delivery"] == "no alerts.webhook_url: not posted" and hook.attempts == 0
    assert announce_changes(wh, settings, AS_OF, sleep=lambda s: None)["changes"] == 0
    assert (
        announce_failure(settings, "nightly", "abcdef123456", [("raw__manual__metrics", "bad")])
        == "no alerts.webhook_url: not posted"
    )
    assert hook.attempts == 0


def test_a_failing_webhook_is_retried_and_never_fails_the_run_nor_forgets_the_turn(
    tmp_path, hook, caplog
):
    settings = settings_for(tmp_path, hook.url)
    wh = Warehouse(str(settings.warehouse_path), settings.business_id)
    write(wh, [snapshot("support_tickets_solved", "month", *MONTH, 9.0, 40.0, 15.0, "off_track")])
    waits: list[float] = []
    hook.fail(503, times=4)
    with caplog.at_level(logging.WARNING):
        outcome = announce_changes(wh, settings, AS_OF, sleep=waits.append)
    assert hook.attempts == 4 and waits == [2.0, 4.0, 8.0] and not hook.messages
    assert "HTTP 503" in outcome["delivery"] and "after 4 attempts" in outcome["delivery"]
    assert "s3cretWebhookToken" not in outcome["delivery"] + caplog.text
    # not delivered, so not remembered: the next run announces it
    hook.fail(429, times=1, headers={"Retry-After": "7"})
    outcome = announce_changes(wh, settings, AS_OF, sleep=waits.append)
    assert (
        outcome["delivery"].startswith("delivered") and waits[-1] == 7.0 and len(hook.messages) == 1
    )


def test_a_refused_or_unreachable_webhook_says_what_to_fix_without_its_secret(tmp_path, hook):
    hook.fail(404)
    delivered, what = post(hook.url, {"text": "x"}, sleep=lambda s: None)
    assert not delivered and hook.attempts == 1  # a 404 does not get better by asking again
    assert (
        "HTTP 404" in what
        and "check alerts.webhook_url" in what
        and "s3cretWebhookToken" not in what
    )
    from tests.processes import free_port

    port = free_port()  # nothing listens there
    waits: list[float] = []
    delivered, what = post(
        f"http://127.0.0.1:{port}/hooks/s3cret", {"text": "x"}, attempts=3, sleep=waits.append
    )
    assert (
        not delivered
        and "could not reach the webhook (ConnectionError)" in what
        and len(waits) == 2
    )
    assert "s3cret" not in what


def test_the_run_failure_message_names_source_step_and_fix(tmp_path, hook):
    settings = settings_for(tmp_path, hook.url)
    cause = "stripe/charges: Invalid API Key provided (HTTP 401); check sources.stripe.api_key"
    what = announce_failure(
        settings,
        "nightly",
        "0123456789abcdef",
        [("raw__stripe__charges", cause), ("raw__stripe__customers", cause)],
        "2026-11-18",
    )
    assert what.startswith("delivered")
    text = hook.texts()[0]
    assert text.startswith("Studio Lumen: the nightly run failed (as of 2026-11-18)")
    assert (
        "*stripe*: 2 steps failed (`raw/stripe__charges`, `raw/stripe__customers`): " + cause
        in text
    )
    assert "Run 01234567" in text


def test_kpi_sync_posts_the_turn_once_and_a_failed_night_names_the_source_and_fix(
    sandbox, tmp_path, monkeypatch, hook, capsys
):
    """The command path: a real sync against the sandbox,
    the webhook's URL a secret from the env."""
    from kpi_pipeline.cli.main import main
    from tests.conftest import AS_OF as SANDBOX_AS_OF
    from tests.conftest import live_environment, subset_config

    live_environment(monkeypatch, sandbox, tmp_path)
    monkeypatch.setenv("KPI_ALERT_WEBHOOK", hook.url)
    # a revenue target no month can reach: November is off track half-way through
    path = subset_config(
        tmp_path,
        sandbox,
        ["stripe", "calendly"],
        dt.date(2026, 11, 1),
        extra=(
            "targets:\n  revenue: {month: 100000000}\n"
            'alerts: {webhook_url: "${KPI_ALERT_WEBHOOK}"}\n'
        ),
    )
    args = ["--config", str(path), "--as-of", SANDBOX_AS_OF.isoformat()]
    assert main(["sync", *args, "--start", "2026-11-01"]) == 0, capsys.readouterr().out
    assert len(hook.messages) == 1
    text = hook.texts()[0]
    assert "*Revenue* (2026-11): off track: actual €" in text and "target €100,000,000.00" in text
    assert (
        tmp_path / "data" / "reports" / "scorecard.html"
    ).resolve().as_uri() in text  # the report's link
    assert main(["sync", *args]) == 0  # the same night again: said already
    assert len(hook.messages) == 1
    # the next night Stripe refuses the key: the failure is posted, naming source, step and fix
    sandbox.stripe.server.inject(r".*", status=401, times=1000)
    later = (SANDBOX_AS_OF + dt.timedelta(days=1)).isoformat()
    out = capsys.readouterr()
    assert main(["sync", "--config", str(path), "--as-of", later]) == 1
    failure = hook.texts()[-1]
    assert failure.startswith(f"Studio Lumen: the kpi sync run failed (as of {later})")
    assert (
        "*stripe*: 4 steps failed (`raw/stripe__balance_transactions`, `raw/stripe__charges`, "
        in failure
    )
    assert "Invalid API Key provided" in failure and "check sources.stripe.api_key" in failure
    assert "*calendly*" not in failure
    out = capsys.readouterr()
    assert hook.url not in out.out + out.err + "".join(hook.texts())

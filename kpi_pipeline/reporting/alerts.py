"""Alerts: a Slack-compatible message when a KPI turns, and one when a run fails.

A KPI's turn is announced once: ``snapshots.alerts`` remembers what was announced for each
KPI x grain x period, so a re-run of the same night says nothing new. A webhook that fails is
retried a few times and then left for the next run (the change stays unannounced, so it is
announced then); it never fails the run. Without ``alerts.webhook_url`` nothing is posted.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import requests

from connectors.http import redact
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.periods import label
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.warehouse.database import Warehouse

log = logging.getLogger(__name__)

ALERTS_TABLE = "snapshots.alerts"
RECENT_DAYS = 7  # a period that closed this many days ago or less can still be announced as missed
# what a status is announced as; statuses not here (at_risk, too_early, no_data...) announce nothing
ANNOUNCED = {
    "off_track": "off track",
    "missed": "missed",
    "on_track": "back on track",
    "achieved": "achieved after all",
}
GRAINS = ("week", "month", "quarter", "year")


@dataclass(frozen=True)
class Change:
    kpi_id: str
    label: str
    grain: str
    period_start: dt.date
    period: str
    status: str
    actual: str
    target: str
    projected: str

    @property
    def announcement(self) -> str:
        return (
            "off_track"
            if self.status == "off_track"
            else "missed"
            if self.status == "missed"
            else "on_track"
        )


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped (labels and names come from config and APIs)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def status_changes(
    settings: Settings,
    snapshots: pd.DataFrame,
    announced: dict[tuple[str, str, dt.date], str],
    as_of: dt.date,
) -> list[Change]:
    """The turns to announce: a current (or just closed) period that went off track or was missed,
    or came back on track after it was announced off track."""
    kpis = {k.id: k for k in settings.kpis()}
    fmt = Formatter("en", settings.currency)  # the message is English: its numbers are too
    recent = as_of - dt.timedelta(days=RECENT_DAYS - 1)
    out = []
    for row in snapshots.itertuples(index=False):
        kpi = kpis.get(row.kpi_id)
        start, end = pd.Timestamp(row.period_start).date(), pd.Timestamp(row.period_end).date()
        if (
            kpi is None
            or row.grain not in GRAINS
            or row.status not in ANNOUNCED
            or start > as_of
            or end < recent
        ):
            continue
        before = announced.get((row.kpi_id, row.grain, start))
        if row.status in ("on_track", "achieved"):
            if before != "off_track":
                continue  # only a recovery from an announced off track is news
        elif before == row.status:
            continue
        unit, digits = kpi.unit, kpi.shown_decimals
        out.append(
            Change(
                row.kpi_id,
                kpi.label_in(settings.language),
                row.grain,
                start,
                label(row.grain, start, settings.week_start),
                row.status,
                fmt.value(row.actual, unit, digits),
                fmt.value(row.target, unit, digits),
                fmt.value(row.projected, unit, digits),
            )
        )
    return sorted(out, key=lambda c: (GRAINS.index(c.grain), c.kpi_id))


def change_message(
    settings: Settings, changes: list[Change], as_of: dt.date, report_link: str
) -> dict[str, Any]:
    """One Slack-compatible message (``text`` for notifications, ``blocks`` for the layout)."""
    lines = []
    for c in changes:
        projection = "" if c.status == "missed" else f", projected {c.projected}"
        lines.append(
            f"*{_mrkdwn(c.label)}* ({c.period}): {ANNOUNCED[c.status]}: actual {c.actual}, "
            f"target {c.target}{projection}"
        )
    title = (
        f"{settings.business}: {len(changes)} KPI{'s' if len(changes) > 1 else ''} turned "
        f"(as of {as_of})"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    ]
    for i in range(0, len(lines), 20):  # a section holds 3,000 characters: 20 lines fit
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[i : i + 20])}}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"<{report_link}|Open the scorecard>"}],
        }
    )
    return {
        "text": f"{title}\n" + "\n".join(lines) + f"\nScorecard: {report_link}",
        "blocks": blocks[:50],
    }


def failure_message(
    settings: Settings,
    job: str,
    run_id: str,
    failures: Iterable[tuple[str, str]],
    as_of: str | None = None,
) -> dict[str, Any]:
    """The run failed: which source, which step, and the cause (which says what to fix)."""
    by_source: dict[str, list[tuple[str, str]]] = {}
    for step, cause in failures:
        source = (
            step.split("__")[1]
            if step.startswith("raw__") and step.count("__") >= 2
            else "pipeline"
        )
        by_source.setdefault(source, []).append((step.replace("__", "/", 1), cause))
    lines = []
    for (
        source,
        steps,
    ) in by_source.items():  # one line per source: its steps, and the first cause in full
        names = ", ".join(f"`{_mrkdwn(name)}`" for name, _ in steps)
        what = f"step {names} failed" if len(steps) == 1 else f"{len(steps)} steps failed ({names})"
        lines.append(f"*{_mrkdwn(source)}*: {what}: {_mrkdwn(redact(steps[0][1]))}")
    when = f" (as of {as_of})" if as_of else ""
    title = f"{settings.business}: the {job} run failed{when}"
    footer = (
        f"Run {run_id[:8]}. The scorecard is refreshed from what did load; KPIs of a source that "
        "did not load show no data until it does."
    )
    body = "\n".join(lines) or "the run failed before any step (see the run in the Dagster UI)"
    return {
        "text": f"{title}\n{body}\n{footer}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]},
        ],
    }


def post(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = 4,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, str]:
    """POST the message; retry connection errors, 429 and 5xx with backoff. Never raises:
    returns (delivered, what happened), the URL (a secret) never in the words."""
    what = "not tried"
    for attempt in range(1, attempts + 1):
        wait = None
        try:
            response = requests.post(url, json=payload, timeout=timeout)
        except requests.RequestException as err:
            what = f"could not reach the webhook ({type(err).__name__})"
        else:
            if response.status_code < 300:
                return True, f"delivered (HTTP {response.status_code})"
            what = (
                f"the webhook answered HTTP {response.status_code}: {redact(response.text[:200])}"
            )
            if response.status_code < 500 and response.status_code != 429:
                return False, what + "; check alerts.webhook_url"
            if response.status_code == 429:
                wait = _seconds(response.headers.get("Retry-After"))
        if attempt < attempts:
            sleep(wait if wait is not None else min(30.0, 2.0**attempt))
    return False, f"{what}, after {attempts} attempts"


def _seconds(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def report_link(settings: Settings) -> str:
    return (
        settings.alerts.report_url or (settings.reports_dir / "scorecard.html").resolve().as_uri()
    )


def announce_changes(
    wh: Warehouse, settings: Settings, as_of: dt.date, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Announce the KPIs that turned since the last announcement; remember what was delivered."""
    with wh.reader():  # one open of the file for the reads; not held while posting
        _ensure_table(wh)
        latest = wh.query(
            f"select max(as_of) from {ALERTS_TABLE} where business_id = ?", [settings.business_id]
        )[0][0]
        if (
            latest is not None and as_of < latest
        ):  # reproducing a past review: that past is not news
            return {
                "changes": 0,
                "delivery": f"as-of {as_of} is before {latest}, already announced: not posted",
            }
        snaps = wh.query_df(
            "select kpi_id, grain, period_start, period_end, actual, target, projected, status "
            "from snapshots.kpi_snapshots where business_id = ?",
            [settings.business_id],
        )
        announced = {
            (k, g, pd.Timestamp(p).date()): s
            for k, g, p, s in wh.query(
                "select kpi_id, grain, period_start, arg_max(announced, sent_at) from "
                f"{ALERTS_TABLE} where business_id = ? group by all",
                [settings.business_id],
            )
        }
    changes = status_changes(settings, snaps, announced, as_of)
    if not changes:
        return {"changes": 0, "delivery": "nothing turned"}
    webhook = settings.alerts.webhook_url
    if webhook is None:
        # nothing to post to: remember them anyway, so a webhook set later starts from now
        delivered, what = True, "no alerts.webhook_url: not posted"
    else:
        delivered, what = post(
            webhook.get_secret_value(),
            change_message(settings, changes, as_of, report_link(settings)),
            sleep=sleep,
        )
    if delivered:
        rows = [
            (
                settings.business_id,
                c.kpi_id,
                c.grain,
                c.period_start,
                c.status,
                c.announcement,
                as_of,
            )
            for c in changes
        ]
        with wh.writer() as con:
            con.executemany(f"insert into {ALERTS_TABLE} values (?, ?, ?, ?, ?, ?, ?, now())", rows)
    else:
        log.warning("alert not delivered: %s; it is sent again after the next run", what)
    return {
        "changes": len(changes),
        "delivery": what,
        "turned": "\n".join(f"{c.kpi_id} {c.period}: {c.status}" for c in changes),
    }


def _ensure_table(wh: Warehouse) -> None:
    with wh.writer() as con:
        con.execute(
            f"create table if not exists {ALERTS_TABLE} (business_id varchar, kpi_id varchar, "
            "grain varchar, period_start date, status varchar, announced varchar, as_of date, "
            "sent_at timestamptz)"
        )


def root_message(error: Any) -> str:
    """The innermost message of a Dagster error chain: what really went wrong."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "failed"
    # "kpi_pipeline.warehouse.storage.StorageError: disk full ..." -> the words;
    # keep the name of others
    return re.sub(r"^(kpi_pipeline|connectors)(\.\w+)*\.\w+: ", "", error.message.strip())


def announce_failure(
    settings: Settings,
    job: str,
    run_id: str,
    failures: list[tuple[str, str]],
    as_of: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Post the run-failure message, when there is a webhook. Returns what happened."""
    if settings.alerts.webhook_url is None:
        return "no alerts.webhook_url: not posted"
    delivered, what = post(
        settings.alerts.webhook_url.get_secret_value(),
        failure_message(settings, job, run_id, failures, as_of),
        sleep=sleep,
    )
    if not delivered:
        log.warning("run-failure alert not delivered: %s", what)
    return what

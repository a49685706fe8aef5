"""`kpi report` and `kpi review` on a published warehouse written here by hand: which as-of they
show, what they say when a snapshot or period does not exist, colour only on a terminal."""

import datetime as dt
import io
import json

import duckdb
import pytest

from kpi_pipeline.cli.main import main
from kpi_pipeline.kpi.scorecard import SNAPSHOT_COLUMNS
from tests.snapshot_rows import frame, month, row

RUN_LATE, RUN_BACK = dt.datetime(2026, 11, 30, 3), dt.datetime(2026, 12, 1, 3)


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A sync as of 2026-11-29 finalised October; then `kpi sync --as-of 2026-11-15` ran: October
    kept as it was (as of 11-29), November recomputed as of 11-15."""
    monkeypatch.delenv("KPI_AS_OF", raising=False)
    monkeypatch.delenv("KPI_WAREHOUSE", raising=False)
    config = tmp_path / "kpi.yaml"
    config.write_text(open("kpi.yaml").read())
    october = row(
        "revenue",
        "month",
        *month(10),
        13000.0,
        12000.0,
        "achieved",
        as_of=dt.date(2026, 11, 29),
        is_final=True,
        computed_at=RUN_LATE,
    )
    november = row(
        "revenue",
        "month",
        *month(11),
        5000.0,
        12000.0,
        "off_track",
        as_of=dt.date(2026, 11, 15),
        computed_at=RUN_BACK,
        previous_actual=6000.0,
        change_pct=-1 / 6,
    )
    september = row(
        "revenue",
        "month",
        *month(9),
        9000.0,
        12000.0,
        "missed",
        as_of=dt.date(2026, 11, 29),
        is_final=True,
        computed_at=RUN_LATE,
    )
    quarter = row(
        "revenue",
        "quarter",
        dt.date(2026, 7, 1),
        dt.date(2026, 9, 30),
        35000.0,
        36000.0,
        "missed",
        as_of=dt.date(2026, 11, 29),
        is_final=True,
        computed_at=RUN_LATE,
    )
    q4 = row(
        "revenue",
        "quarter",
        dt.date(2026, 10, 1),
        dt.date(2026, 12, 31),
        18000.0,
        36000.0,
        "off_track",
        as_of=dt.date(2026, 11, 15),
        computed_at=RUN_BACK,
    )
    current = frame([september, october, november, quarter, q4])
    history = frame([september, october, november, quarter, q4]).iloc[[2, 4]]
    folder = tmp_path / "data"
    folder.mkdir()
    con = duckdb.connect(str(folder / "analytics.duckdb"))
    con.execute("create schema snapshots")
    for table, data in (("kpi_snapshots", current), ("kpi_snapshot_history", history)):
        con.register("frame", data[SNAPSHOT_COLUMNS])
        con.execute(f"create table snapshots.{table} as select * from frame")
    con.close()
    return config


def test_a_plain_report_shows_the_as_of_of_the_latest_run_not_of_kept_final_rows(published, capsys):
    assert main(["report", "--config", str(published), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["as_of"] == "2026-11-15"
    assert {(k["period"], k["actual"]) for k in doc["kpis"]} == {
        ("2026-11", 5000.0),
        ("2026-Q4", 18000.0),
    }
    assert main(["report", "--config", str(published)]) == 0
    out = capsys.readouterr().out
    assert "as of 15 November 2026" in out and "November 2026" in out and "29 November" not in out


def test_an_as_of_without_a_snapshot_says_how_to_get_one(published, capsys):
    assert main(["report", "--config", str(published), "--as-of", "2026-11-10"]) == 1
    err = capsys.readouterr().err
    assert "no snapshot as of 2026-11-10: snapshots exist as of 2026-11-15" in err
    assert (
        "run `kpi sync --as-of 2026-11-10`" in err and "then `kpi report --as-of 2026-11-10`" in err
    )
    assert (
        main(["report", "--config", str(published), "--as-of", "2026-11-15", "--format", "json"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)  # from the history, with the periods final before it
    assert doc["as_of"] == "2026-11-15" and len(doc["kpis"]) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--period", "2026-12"],
            "--period: 2026-12 has not started: the data runs through "
            "2026-11-15 (latest month: 2026-11)",
        ),
        (["--period", "2027"], "--period: 2027 has not started"),
        (["--period", "2025-06"], "--period: 2025-06 ends before history_start (2025-10-01)"),
        (["--period", "2026-13"], "--period: '2026-13' is not a month (YYYY-MM)"),
        (["--period", "2026-W60"], "not a week"),
    ],
)
def test_periods_that_cannot_be_reported(published, capsys, args, message):
    assert main(["report", "--config", str(published), *args]) == 2
    assert message in capsys.readouterr().err
    assert main(["review", "--config", str(published), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_past_period_is_reported_with_its_own_values(published, capsys):
    assert (
        main(["report", "--config", str(published), "--period", "2026-10", "--format", "markdown"])
        == 0
    )
    md = capsys.readouterr().out
    assert (
        "**Month October 2026: 1 achieved**" in md and "| Revenue | €13,000.00 | €12,000.00 |" in md
    )


def test_the_review_writes_html_and_markdown(published, capsys, tmp_path):
    assert main(["review", "--config", str(published), "--period", "2026-Q3"]) == 0
    out = capsys.readouterr().out
    reports = published.parent / "data" / "reports"
    assert f"wrote {reports / 'review-2026-Q3.html'}" in out and "2026-Q3: 1 missed" in out
    md = (reports / "review-2026-Q3.md").read_text()
    assert md.startswith("# Studio Lumen · Review Q3 2026") and "## Missed (1)" in md
    assert "| Revenue | €35,000.00 | €36,000.00 | missed |" in md
    assert '<html lang="en">' in (reports / "review-2026-Q3.html").read_text()
    target = tmp_path / "r.md"
    assert (
        main(
            [
                "review",
                "--config",
                str(published),
                "--period",
                "2026-11",
                "--format",
                "markdown",
                "--output",
                str(target),
            ]
        )
        == 0
    )
    assert "still open" in target.read_text() and "Revenue" in target.read_text()
    assert (
        main(["review", "--config", str(published), "--period", "2026-11", "--output", "x.md"]) == 2
    )
    assert "--output: give --format too" in capsys.readouterr().err


def test_colour_on_a_terminal_plain_text_when_piped(published, capsys):
    from kpi_pipeline.config.settings import load_config
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.model import load_scorecard
    from kpi_pipeline.reporting.store import published_snapshots
    from kpi_pipeline.reporting.terminal import render_text

    settings = load_config(published)
    with published_snapshots(settings) as (as_of, snaps, query):
        card = load_scorecard(query, settings, as_of, ("month",), snaps=snaps)
    plain = render_text(card, Formatter("en", "EUR"))
    assert "\x1b[" not in plain and "Sales (1 off track)" in plain and "✗ off track" in plain
    terminal = io.StringIO()
    render_text(card, Formatter("en", "EUR"), terminal, colour=True)
    assert "\x1b[1;31m✗ off track" in terminal.getvalue()
    assert main(["report", "--config", str(published)]) == 0  # capsys is not a terminal
    assert "\x1b[" not in capsys.readouterr().out


def test_status_changes_name_the_current_and_just_closed_periods_only():
    from kpi_pipeline.reporting.store import status_changes

    as_of = dt.date(2026, 12, 3)  # December has begun: November closed 3 days ago
    nov, dec, q4, oct_ = (
        dt.date(2026, 11, 1),
        dt.date(2026, 12, 1),
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 1),
    )
    before = {
        ("revenue", "month", nov): "at_risk",
        ("revenue", "month", oct_): "achieved",
        ("revenue", "quarter", q4): "on_track",
        ("leads", "month", nov): "off_track",
        ("orders", "month", dec): "too_early",
    }
    after = {
        ("revenue", "month", nov): "missed",
        ("revenue", "month", oct_): "missed",  # October: long closed
        ("revenue", "quarter", q4): "at_risk",
        ("leads", "month", nov): "off_track",
        ("orders", "month", dec): "too_early",
        ("aov", "month", dec): "on_track",
    }  # new: not a change
    assert status_changes(before, after, as_of) == [
        (("revenue", "month", nov), "at_risk", "missed"),
        (("revenue", "quarter", q4), "on_track", "at_risk"),
    ]

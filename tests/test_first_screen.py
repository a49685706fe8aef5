"""The first screen on the 6th of a month (issue 24 §1): `kpi report` in the terminal, as JSON and
as HTML in Chromium (1440x900, no click) lead with how last month ended, the year's headline and
the three things to act on first.

The demo (the shipped kpi.yaml, history from January) is synced once as of 6 October 2026: October
is too early to judge (6 of 31 days), September is closed. The truth is read here from
snapshots.kpi_snapshots with plain SQL; the figures shown are parsed back by a regex of this file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest

from tests.demo_folder import demo_business, dutch_copy

SIXTH = dt.date(2026, 10, 6)
HISTORY_START = dt.date(2026, 1, 1)
SHOTS = Path(__file__).resolve().parent / "artifacts"  # screenshots kept for people (gitignored)


@pytest.fixture(scope="module")
def synced(sandbox, tmp_path_factory):
    """The shipped kpi.yaml (demo mode) synced as of SIXTH; a Dutch copy over the same warehouse."""
    from kpi_pipeline.cli.main import main
    from kpi_pipeline.config.settings import load_config

    folder = tmp_path_factory.mktemp("sixth")
    mp = pytest.MonkeyPatch()
    text = demo_business(mp, sandbox, folder, HISTORY_START)
    assert "language: en" in text
    dutch_copy(folder, text)
    try:
        args = ["--config", str(folder / "kpi.yaml"), "--as-of", SIXTH.isoformat()]
        assert main(["sync", *args, "--start", HISTORY_START.isoformat()]) == 0
        yield load_config(folder / "kpi.yaml"), folder
    finally:
        mp.undo()


def rows(settings, sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        return con.execute(sql, [settings.business_id, *params]).fetchall()


def closed_verdicts(settings) -> dict[str, tuple[str, bool]]:
    """September's achieved and missed KPIs: kpi_id -> (status, is_final)."""
    found = rows(
        settings,
        "select kpi_id, status, is_final from snapshots.kpi_snapshots where business_id = ? "
        "and grain = 'month' and period_start = ? and status in ('achieved', 'missed')",
        dt.date(2026, 9, 1),
    )
    return {k: (s, bool(f)) for k, s, f in found}


def year_headlines(settings) -> list[tuple]:
    """Per domain the first KPI of the catalog with a 2026 target:
    (kpi_id, actual, target, status)."""
    found = rows(
        settings,
        "select kpi_id, actual, target, status from snapshots.kpi_snapshots where business_id = ? "
        "and grain = 'year' and period_start = ? and target is not null",
        dt.date(2026, 1, 1),
    )
    by_id = {r[0]: r for r in found}
    firsts: dict[str, tuple] = {}
    for kpi in settings.kpis():
        if kpi.id in by_id:
            firsts.setdefault(kpi.domain, by_id[kpi.id])
    return list(firsts.values())


def action_truth(settings) -> list[tuple[str, float]]:
    """Off track in October or missed in September, per KPI its largest 1 - attainment."""
    return [
        (k, float(d))
        for k, d in rows(
            settings,
            "select kpi_id, max(greatest(0, 1 - coalesce(attainment, 0))) d from "
            "snapshots.kpi_snapshots where business_id = ? and grain = 'month' and ("
            "(period_start = ? and status = 'off_track') or "
            "(period_start = ? and status = 'missed')) group by kpi_id order by d desc",
            dt.date(2026, 10, 1),
            dt.date(2026, 9, 1),
        )
    ]


def check_actions(settings, shown: list[str]) -> None:
    """The three shown (kpi ids, in order) are the three farthest from target, farthest first."""
    truth = action_truth(settings)
    assert len(truth) >= 3, f"the demo should have at least three KPIs to act on: {truth}"
    distance = dict(truth)
    assert len(shown) == 3 and all(k in distance for k in shown), (shown, truth)
    assert [distance[k] for k in shown] == [d for _, d in truth[:3]], (shown, truth)


def number(text: str) -> float:
    """ "€136k" -> 136000, "€9.8k" -> 9800, "2,310" -> 2310, "35.0%" -> 0.35 (English)."""
    found = re.fullmatch(r"(€)?([\d,]+(?:\.\d+)?)([kKM%]?)", text.strip())
    assert found, text
    value = float(found[2].replace(",", ""))
    return value * {"k": 1e3, "K": 1e3, "M": 1e6, "%": 0.01, "": 1}[found[3]]


def check_headline(line: str, truth: tuple, label: str) -> None:
    kpi_id, actual, target, status = truth
    found = re.search(
        rf"{re.escape(label)}: (\S+) (?:of|for the year, target) (?:at most )?(\S+?)(?=,? |:|$)",
        line,
    )
    assert found, line
    for shown, real in ((found[1], actual), (found[2], target)):
        assert abs(number(shown) - real) <= max(0.006 * abs(real), 0.5), (line, truth)
    word = {
        "on_track": "on course to achieve",
        "at_risk": "at risk of missing",
        "off_track": "projected to miss",
    }.get(status)
    assert line.endswith(word or status.replace("_", " ")), (line, status)


def test_the_terminal_report_on_the_sixth_leads_with_last_month_the_year_and_three_actions(
    synced, capsys
):
    from kpi_pipeline.cli.main import main

    settings, folder = synced
    capsys.readouterr()
    assert main(["report", "--config", str(folder / "kpi.yaml"), "--as-of", SIXTH.isoformat()]) == 0
    out = capsys.readouterr().out.splitlines()
    first = out[: out.index(next(line for line in out if line.startswith("Month October 2026")))]
    labels = {k.id: k.label for k in settings.kpis()}
    verdicts = closed_verdicts(settings)
    assert verdicts, "September should have achieved or missed KPIs"
    ended = next(i for i, line in enumerate(first) if line.startswith("September 2026 ended: "))
    counts = [sum(1 for s, _ in verdicts.values() if s == w) for w in ("missed", "achieved")]
    pending = sum(1 for _, final in verdicts.values() if not final)
    assert first[ended] == "September 2026 ended: " + " · ".join(
        f"{n} {w}" for n, w in zip(counts, ("missed", "achieved"), strict=True) if n
    ) + (f" (not final yet for {pending})" if pending else " (final)")
    year = first.index("Toward the year 2026")
    # the names, as a terminal wraps them at its width
    named = re.findall(
        r"[✗✓] (missed|achieved): (.+?)(?= {3}[✗✓] |$)", " ".join(first[ended + 1 : year])
    )
    assert {status: sorted(text.split(", ")) for status, text in named} == {
        status: sorted(labels[k] for k, (s, _) in verdicts.items() if s == status)
        for status in ("missed", "achieved")
        if status in {s for s, _ in verdicts.values()}
    }
    heads = year_headlines(settings)
    assert heads, "the demo has year targets"
    for i, truth in enumerate(heads, 1):
        check_headline(first[year + i], truth, labels[truth[0]])
    acts = first.index("Act on first")
    shown = first[acts + 1 : acts + 4]
    by_label = {v: k for k, v in labels.items()}
    check_actions(settings, [by_label[re.match(r"  \d\. (.+?): ", s)[1]] for s in shown])
    assert len(first) < 30, "the first screen fits a terminal"


def test_the_json_on_the_sixth_holds_the_moment(synced, capsys):
    from kpi_pipeline.cli.main import main

    settings, folder = synced
    capsys.readouterr()
    args = ["--config", str(folder / "kpi.yaml"), "--as-of", SIXTH.isoformat()]
    assert main(["report", *args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    moment = doc["moment"]
    assert doc["version"] == 1 and moment["grain"] == "month" and moment["current_too_early"]
    closed = moment["closed_period"]
    assert closed["period"] == "2026-09" and closed["shown_first"]
    verdicts = closed_verdicts(settings)
    assert {v["kpi_id"]: (v["status"], v["is_final"]) for v in closed["verdicts"]} == verdicts
    assert closed["final"] == all(final for _, final in verdicts.values())
    heads = year_headlines(settings)
    assert [h["kpi_id"] for h in moment["headlines"]] == [t[0] for t in heads]
    for h, (_, actual, target, status) in zip(moment["headlines"], heads, strict=True):
        assert (h["actual"], h["target"], h["status"]) == (round(actual, 4), target, status)
    check_actions(settings, [a["kpi_id"] for a in moment["actions"]])
    for a in moment["actions"]:
        assert a["status"] in ("off_track", "missed") and a["reason"]
    assert main(["report", *args, "--format", "json", "--period", "2026-09"]) == 0
    assert json.loads(capsys.readouterr().out)["moment"] is None  # a period asked: no moment


@pytest.fixture(scope="module")
def pages(synced):
    """The scorecard as of SIXTH in English and in Dutch, written by `kpi report --format html`."""
    from kpi_pipeline.cli.main import main

    _, folder = synced
    out = {}
    for language, config in (("en", folder / "kpi.yaml"), ("nl", folder / "nl" / "kpi.yaml")):
        out[language] = folder / f"scorecard-{language}.html"
        args = ["--config", str(config), "--as-of", SIXTH.isoformat(), "--format", "html"]
        assert main(["report", *args, "--output", str(out[language])]) == 0
    return out


def first_screen_boxes(path: Path, shot: Path) -> dict[str, list[dict]]:
    """The visible texts of the first screen's parts, each with its box, at 1440x900."""
    pytest.importorskip("playwright")
    from tests.browser import chromium  # skips without Chromium

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(path.resolve().as_uri())
        found: dict[str, list[dict]] = {}
        for name, selector in (
            ("closed", "#moment .m-closed h2, #moment .m-closed .names span[data-kpi]"),
            ("year", "#moment .m-year li"),
            ("actions", "#moment .m-actions li"),
        ):
            found[name] = [
                {**(el.bounding_box() or {}), "text": el.inner_text(), **el_data(el)}
                for el in page.query_selector_all(selector)
                if el.is_visible()
            ]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))
        context.close()
    return found


def el_data(el) -> dict:
    return {"kpi": el.get_attribute("data-kpi"), "status": el.get_attribute("data-status")}


def within_first_screen(boxes: list[dict]) -> None:
    assert boxes
    for box in boxes:
        assert box.get("y") is not None and 0 <= box["y"] and box["y"] + box["height"] <= 900, box


def test_the_html_first_screen_on_the_sixth_shows_last_month_the_year_and_three_actions(
    synced, pages
):
    settings, _ = synced
    found = first_screen_boxes(pages["en"], SHOTS / "first-screen-en.png")
    for part in found.values():
        within_first_screen(part)
    verdicts = closed_verdicts(settings)
    assert found["closed"][0]["text"].startswith("September 2026 ended: ")
    assert {b["kpi"] for b in found["closed"][1:]} == set(verdicts)
    labels = {k.id: k.label for k in settings.kpis()}
    heads = year_headlines(settings)
    assert [b["kpi"] for b in found["year"]] == [t[0] for t in heads]
    for box, truth in zip(found["year"], heads, strict=True):
        check_headline(box["text"], truth, labels[truth[0]])
    check_actions(settings, [b["kpi"] for b in found["actions"]])


def test_the_dutch_first_screen(synced, pages):
    settings, _ = synced
    found = first_screen_boxes(pages["nl"], SHOTS / "first-screen-nl.png")
    for part in found.values():
        within_first_screen(part)
    assert found["closed"][0]["text"].startswith("September 2026 is afgesloten: ")
    assert {b["kpi"] for b in found["closed"][1:]} == set(closed_verdicts(settings))
    assert all(" voor het jaar" in b["text"] for b in found["year"])
    check_actions(settings, [b["kpi"] for b in found["actions"]])

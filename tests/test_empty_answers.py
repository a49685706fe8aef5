"""A platform answering 200 with `{}`, or with a metric renamed, through `kpi sync`.

The sync says which stream failed and why, exits 1, keeps the rows the stream had, and still
refreshes the models and the scorecard for the sources that loaded.
"""

import datetime as dt

import duckdb

from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import load_config
from tests.conftest import AS_OF, live_environment, subset_config

HISTORY_START = dt.date(2026, 10, 1)


def _count(path, sql):
    con = duckdb.connect(str(load_config(path).warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def test_an_empty_object_from_calendly_fails_the_sync_and_keeps_the_meetings(
    sandbox, tmp_path, monkeypatch, capsys
):
    live_environment(monkeypatch, sandbox, tmp_path)
    path = subset_config(tmp_path, sandbox, ["stripe", "calendly"], HISTORY_START)
    args = ["sync", "--config", str(path), "--as-of", AS_OF.isoformat()]
    assert main(args) == 0, capsys.readouterr().out
    meetings = (
        "select count(*), count(*) filter (where status = 'active') "
        "from raw.calendly__scheduled_events"
    )
    before = _count(path, meetings)
    assert before[1] > 0
    capsys.readouterr()
    sandbox.calendly.server.inject(r"/scheduled_events$", status=200, body={}, times=1000)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert (
        "x raw/calendly__scheduled_events failed: calendly/scheduled_events: malformed answer: no "
        "'collection' list of records"
    ) in out
    assert "refreshing models and the scorecard" in out
    assert _count(path, meetings) == before


def test_a_renamed_meta_metric_is_refused_at_load_naming_stream_and_field(
    sandbox, tmp_path, monkeypatch, capsys
):
    live_environment(monkeypatch, sandbox, tmp_path)
    path = subset_config(tmp_path, sandbox, ["meta_ads"], HISTORY_START)
    args = ["sync", "--config", str(path), "--as-of", AS_OF.isoformat()]
    assert main(args) == 0, capsys.readouterr().out
    spend = "select count(*), count(spend), sum(spend) from raw.meta_ads__campaign_insights"
    before = _count(path, spend)
    assert before[0] == before[1] > 0
    capsys.readouterr()

    def renamed(body, req):  # Meta renames spend to amount_spent
        for row in body.get("data", []):
            row["amount_spent"] = row.pop("spend")
        return body

    sandbox.meta.server.inject(r"/insights", transform=renamed, times=1000)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert (
        "x raw/meta_ads__campaign_insights failed: meta_ads/campaign_insights: required field "
        "spend missing from all"
    ) in out
    assert "refreshing models and the scorecard" in out
    assert _count(path, spend) == before

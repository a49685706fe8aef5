"""Any subset of sources runs every command, on a new and on an existing warehouse.

Most businesses use two or three platforms. For each setup below, on a new warehouse:
`kpi sync --source S` (the first source only); with several sources, then a plain `kpi sync`
and `kpi sync --source` another one on the now existing warehouse; then `kpi report`,
`kpi catalog` and `kpi check`; the scorecard scores exactly the KPIs of the configured
sources, and none of another source.
"""

import datetime as dt
import json

import duckdb
import pytest

from kpi_pipeline.catalog import builtin_kpis
from kpi_pipeline.cli import main
from kpi_pipeline.config import load_config
from tests.conftest import AS_OF, live_environment, subset_config

SINGLE = [["mailchimp"], ["ga4"], ["meta_ads"], ["google_ads"], ["instagram"], ["stripe"], ["calendly"], ["hubspot"],
          ["manual"]]
COMBINED = [["mailchimp", "ga4"], ["stripe", "calendly"], ["hubspot", "stripe", "calendly"]]  # test_subsets_combined
HISTORY_START = dt.date(2026, 11, 9)  # one week: what matters here is which setups run


def _expected_kpis(sources):
    out = set()
    for kpi in builtin_kpis():
        if not kpi.total:
            continue
        needed = set(kpi.sources)
        if (needed & set(sources)) if kpi.any_source else needed <= set(sources):
            out.add(kpi.id)
    if "manual" in sources:
        out |= {"treatments_performed", "support_tickets_solved", "staff_sick_days"}
    return out


@pytest.mark.parametrize("sources", SINGLE, ids="+".join)
def test_a_subset_runs_every_command_on_a_new_then_existing_warehouse(sources, sandbox, tmp_path, monkeypatch,
                                                                       capsys):
    every_command(sources, sandbox, tmp_path, monkeypatch, capsys)


def every_command(sources, sandbox, tmp_path, monkeypatch, capsys):
    live_environment(monkeypatch, sandbox, tmp_path)
    path = subset_config(tmp_path, sandbox, sources, HISTORY_START)
    args = ["--config", str(path), "--as-of", AS_OF.isoformat()]
    assert main(["sync", *args, "--source", sources[0]]) == 0, capsys.readouterr().out
    if len(sources) > 1:
        # the others join the existing warehouse, then one source alone syncs again on it (for a
        # single source, `--source S` is the whole setup: a second sync would repeat the first)
        assert main(["sync", *args]) == 0, capsys.readouterr().out
        assert main(["sync", *args, "--source", sources[-1]]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert main(["report", *args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(["catalog", "--config", str(path)]) == 0
    assert main(["check", "--config", str(path)]) == 0
    settings = load_config(path)
    con = duckdb.connect(str(settings.published_path), read_only=True)
    scored = {k for (k,) in con.execute("select distinct kpi_id from snapshots.kpi_snapshots").fetchall()}
    valued = {k for (k,) in con.execute("select distinct kpi_id from kpis.kpi_values").fetchall()}
    catalog = {k for (k,) in con.execute("select kpi_id from kpis.catalog").fetchall()}
    con.close()
    expected = _expected_kpis(sources)
    assert scored == expected
    assert valued <= catalog and catalog - {"traffic_share", "sales_by_product", "units_by_product"} == expected
    assert {r["kpi_id"] for r in doc["kpis"]} <= expected

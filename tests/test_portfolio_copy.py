"""The portfolio copy every business's published copy goes into: a damaged one is left out and
named, an analyst's writes to it are kept aside."""

from __future__ import annotations

import pytest

from kpi_pipeline.portfolio.businesses import businesses
from tests.portfolio_folders import alpha_and_beta


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("KPI_WAREHOUSE", raising=False)
    return alpha_and_beta(tmp_path)


def test_a_damaged_published_copy_leaves_that_business_out_of_the_portfolio_copy(root):
    import duckdb

    from kpi_pipeline.portfolio.businesses import load_all
    from kpi_pipeline.portfolio.copy import build_portfolio_copy

    good, _ = load_all(businesses(root))
    alpha, beta = good["alpha"], good["beta"]
    alpha.published_path.parent.mkdir(parents=True)
    with duckdb.connect(str(alpha.published_path)) as con:
        con.execute("create schema kpis")
        con.execute(
            "create table kpis.kpi_values as select 'alpha' as business_id, 'revenue' as kpi_id, "
            "5.0 as value"
        )
        con.execute(
            "create table kpis.only_alpha as select 1 as n"
        )  # no business_id column: one is added
    beta.published_path.parent.mkdir(parents=True)
    beta.published_path.write_bytes(b"not a duckdb file")
    result = build_portfolio_copy(root, good, {"gamma": "kpi.yaml is invalid"})
    assert result.included == ["alpha"] and "cannot be read" in result.missing["beta"]
    with duckdb.connect(str(result.path), read_only=True) as con:
        assert con.execute("select business_id, value from kpis.kpi_values").fetchall() == [
            ("alpha", 5.0)
        ]
        assert con.execute("select business_id, n from kpis.only_alpha").fetchall() == [
            ("alpha", 1)
        ]
        listed = con.execute(
            "select business_id, in_copy, note from portfolio.businesses order by 1"
        ).fetchall()
    assert [(b, i) for b, i, _ in listed] == [("alpha", True), ("beta", False), ("gamma", False)]
    assert listed[2][2] == "kpi.yaml is invalid"


def test_an_analysts_writes_to_the_portfolio_copy_are_kept_aside_saved_or_not(root):
    """The portfolio copy is read-only for analysts like a business's: a table they saved into it
    (clean close, no .wal) or left unsaved (.wal) is moved aside and said, never renamed over."""
    import subprocess
    import sys

    import duckdb

    from kpi_pipeline.portfolio.businesses import load_all
    from kpi_pipeline.portfolio.copy import build_portfolio_copy

    good, _ = load_all(businesses(root))
    alpha = good["alpha"]
    alpha.published_path.parent.mkdir(parents=True)
    with duckdb.connect(str(alpha.published_path)) as con:
        con.execute("create schema kpis")
        con.execute(
            "create table kpis.kpi_values as select 'alpha' as business_id, 'revenue' as kpi_id, "
            "5.0 as value"
        )
    first = build_portfolio_copy(root, {"alpha": alpha}, {})
    assert first.notes == []
    analyst = (
        "import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
        "con.execute('create table main.mine as select 7 as n'); "
        "con.close() if sys.argv[2] == 'close' else os._exit(0)"
    )
    for ending in ("close", "die"):
        subprocess.run(
            [sys.executable, "-c", analyst, str(first.path), ending], check=True, timeout=120
        )
        assert first.path.with_name(first.path.name + ".wal").exists() == (ending == "die")
        result = build_portfolio_copy(root, {"alpha": alpha}, {})
        [note] = result.notes
        kept = sorted(
            p
            for p in first.path.parent.glob("portfolio_analytics.duckdb.analyst-*")
            if not p.name.endswith(".wal")
        )[-1]
        assert str(kept) in note and (".wal" in note) == (ending == "die"), note
        with duckdb.connect(str(kept), read_only=True) as con:
            assert con.execute("select n from main.mine").fetchone()[0] == 7
        with duckdb.connect(
            str(result.path), read_only=True
        ) as con:  # the new copy opens, theirs is not in it
            assert con.execute("select value from kpis.kpi_values").fetchall() == [(5.0,)]
            assert not con.execute(
                "select * from duckdb_tables() where table_name = 'mine'"
            ).fetchall()
    assert build_portfolio_copy(root, {"alpha": alpha}, {}).notes == []  # nothing more to keep

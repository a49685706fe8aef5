"""A contact created months ago who becomes a lead tonight is counted on its lead date.

A first load (`kpi sync --start`) on 19 August, then every night through early October the
nightly run's HubSpot loads (each stream's lookback window ending at as-of, by the raw assets'
own steps; a whole `kpi sync` a night would take minutes), and `kpi sync` on the last night,
against a sandbox whose platform clock moves with the nights: HubSpot serves each night only
what has happened by then. Subscribers created in the spring who become leads in August and
September must land in those months' leads, as the world's own events count them.
"""

import datetime as dt

import duckdb
import pytest

from connectors.registry import connect, streams
from connectors.sandbox import Sandbox
from connectors.sandbox.world import local_date, local_midnight
from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sources.windows import WINDOW_TAG, source_settings, stream_context, stream_window
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import live_environment, subset_config

HISTORY_START = dt.date(2026, 8, 1)
FIRST_NIGHT = dt.date(2026, 8, 19)  # the first load runs that night, for as-of the 18th
LAST_NIGHT = dt.date(2026, 10, 6)
MONTHS = ((dt.date(2026, 8, 1), dt.date(2026, 8, 31)), (dt.date(2026, 9, 1), dt.date(2026, 9, 30)))


def platform_clock(sandbox: Sandbox, night: dt.date) -> None:
    """HubSpot's now: the start of ``night`` (everything later in the world is still to come)."""
    sandbox.world.sales.now = local_midnight(night)


def nightly_loads(settings, as_of: dt.date) -> None:
    """What the nightly run's raw HubSpot assets do (kpi_pipeline/orchestration/assets/raw.py): each
    stream's window in lookback mode, then its load."""
    wh = Warehouse(settings.warehouse_path, settings.business_id)
    for spec in streams("hubspot").values():
        window = stream_window(settings, spec, as_of, None, {WINDOW_TAG: "lookback"})
        client = connect("hubspot", source_settings(settings, "hubspot", as_of))
        load_stream(spec, client, window, stream_context(settings, as_of), wh)


def truth_leads(sales, start: dt.date, end: dt.date) -> tuple[int, int]:
    """Contacts whose lead date (the day they became a lead, at creation or later) is in start..end,
    by the world's events; and how many became one after the first load, six weeks or more after
    they were created (what a re-fetch by creation date misses)."""
    leads = [
        c
        for c in sales.contacts
        if c.lead_at is not None and c.lead_at < sales.now and start <= local_date(c.lead_at) <= end
    ]
    return len(leads), sum(
        1
        for c in leads
        if c.lead_at - c.created_at > dt.timedelta(days=42)
        and c.lead_at >= local_midnight(FIRST_NIGHT)
    )


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("late_leads")
    with Sandbox(LAST_NIGHT) as sandbox:
        live_environment(mp, sandbox, folder)
        path = subset_config(folder, sandbox, ["hubspot"], HISTORY_START)
        settings = load_config(path)
        codes = []
        night = FIRST_NIGHT
        while night <= LAST_NIGHT:
            platform_clock(sandbox, night)
            mp.setenv("KPI_TODAY", night.isoformat())
            as_of = night - dt.timedelta(days=1)
            args = ["sync", "--config", str(path), "--as-of", str(as_of)]
            if night == FIRST_NIGHT:
                codes.append(main([*args, "--start", str(HISTORY_START)]))
            elif night == LAST_NIGHT:
                codes.append(main(args))
            else:
                nightly_loads(settings, as_of)
            night += dt.timedelta(days=1)
        yield sandbox, settings, codes
    mp.undo()


def test_a_contact_who_becomes_a_lead_long_after_creation_lands_on_its_lead_date(nights):
    sandbox, settings, codes = nights
    assert codes == [0, 0]
    con = duckdb.connect(str(settings.published_path), read_only=True)
    for start, end in MONTHS:
        leads, late = truth_leads(sandbox.world.sales, start, end)
        assert (
            late >= 1
        )  # the case at hand: created in the winter or spring, a lead after the first load
        actual = con.execute(
            "select actual from snapshots.kpi_snapshots where kpi_id = 'leads' and grain = 'month' "
            "and period_start = ?",
            [start],
        ).fetchone()[0]
        assert actual == leads, f"{start:%B}: {actual} leads, HubSpot has {leads}"
    con.close()


def test_the_loads_record_the_days_left_complete(nights):
    sandbox, settings, _ = nights
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    spans = con.execute(
        "select window_start, window_end from raw._loads where stream = 'contacts' "
        "order by loaded_at"
    ).fetchall()
    # each contact once, as it is now: an old contact's later change replaced its earlier self
    rows, ids = con.execute(
        "select count(*), count(distinct contact_id) from raw.hubspot__contacts"
    ).fetchone()
    con.close()
    # the first load took the whole history; every night after left it complete from there
    assert len(spans) == (LAST_NIGHT - FIRST_NIGHT).days + 1
    assert spans[0][0] == spans[-1][0] < HISTORY_START
    assert [end for _, end in spans] == [
        FIRST_NIGHT + dt.timedelta(days=n - 1) for n in range(len(spans))
    ]
    assert (
        rows
        == ids
        == sum(1 for c in sandbox.world.sales.contacts if c.created_at < sandbox.world.sales.now)
    )

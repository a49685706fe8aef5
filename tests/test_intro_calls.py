"""Intro calls are the meetings whose event type is one named in intro_call_event_types: the
whole name, case-insensitive and trimmed, never a part of it (README.md#what-the-numbers-mean)."""

import datetime as dt

import pytest

from connectors.calendly import connector as calendly
from connectors.sandbox.world import local_date
from connectors.streams import StreamContext, Window
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF
from tests.raw_loads import load, meeting, value

SEPTEMBER = (dt.date(2026, 9, 1), dt.date(2026, 9, 30))


def calendly_only(**calendly_settings):
    base = load_config("kpi.yaml")
    block = base.sources.calendly.model_copy(update=calendly_settings)
    only = base.sources.model_copy(
        update={**{s: None for s in base.enabled_sources()}, "calendly": block}
    )
    return base.model_copy(
        update={"history_start": dt.date(2026, 8, 1), "sources": only, "demo": False}
    )


def test_a_name_that_contains_intro_call_is_not_an_intro_call():
    settings = calendly_only(intro_call_event_types=["Intro call"])
    wh = Warehouse(":memory:", settings.business_id)
    day = dt.date(2026, 9, 8)
    load(
        wh,
        "calendly",
        "scheduled_events",
        [
            meeting(day),
            meeting(day + dt.timedelta(days=1), name="  INTRO CALL "),
            meeting(day + dt.timedelta(days=2), name="Follow-up na intro call"),
            meeting(day + dt.timedelta(days=3), name="Intro call (30 min)"),
        ],
        SEPTEMBER[0],
        SEPTEMBER[1],
    )
    run_models(wh, settings, SEPTEMBER[1])
    assert (
        value(wh, "intro_calls", "week", day - dt.timedelta(days=1))[0] == 2
    )  # the week of Mon 7 Sep


def sandbox_intro_calls(sandbox, settings):
    wh = Warehouse(":memory:", settings.business_id)
    client = calendly.connect(sandbox.settings_for("calendly"))
    ctx = StreamContext("Europe/Brussels", AS_OF, None, person_salt="test-salt")
    load_stream(calendly.STREAMS["scheduled_events"], client, Window(*SEPTEMBER), ctx, wh)
    run_models(wh, settings, SEPTEMBER[1])
    return value(wh, "intro_calls", "month", SEPTEMBER[0])[0]


def world_meetings(world, kind):
    """The world's meetings of one kind held in September and neither
    canceled nor unbooked by now."""
    s = world.sales
    return [
        b
        for b in s.bookings
        if b.event_type == kind
        and s.seen(b.created_at)
        and not s.seen(b.canceled_at)
        and SEPTEMBER[0] <= local_date(b.start_time) <= SEPTEMBER[1]
    ]


@pytest.mark.parametrize("configured", [["Intro call"], [" intro CALL"]])
def test_a_month_of_intro_calls_counts_the_intro_call_event_type_only(sandbox, configured):
    follow_ups = world_meetings(sandbox.world, "follow_up_intro")
    assert (
        follow_ups
    )  # the month has meetings whose name contains "intro call" and that are not intro calls
    calls = sandbox_intro_calls(sandbox, calendly_only(intro_call_event_types=configured))
    assert (
        calls
        == sandbox.world.truth_sales(*SEPTEMBER)["intro_calls"]
        == len(world_meetings(sandbox.world, "intro"))
    )

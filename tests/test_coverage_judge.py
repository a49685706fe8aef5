"""Coverage.judge on constructed loads: which of a KPI's streams decide, and the reason it gives.

Dates are written out by hand; nothing here comes from the pipeline's period code.
"""

from __future__ import annotations

import datetime as dt

from kpi_pipeline.kpi.coverage import Coverage

D = dt.date
START = D(2026, 6, 1)


def days(first: dt.date, last: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=i) for i in range((last - first).days + 1)}


def coverage(**streams: set[dt.date]) -> Coverage:
    """Calendly's two streams, Mailchimp's list activity (a 180-day limit) and members,
    as loaded."""
    ids = {
        "events": ("calendly", "scheduled_events"),
        "invitees": ("calendly", "invitees"),
        "activity": ("mailchimp", "list_activity"),
        "members": ("mailchimp", "members"),
    }
    stream_days = {ids[k]: v for k, v in streams.items()}
    return Coverage(
        history_start=START,
        stream_days=stream_days,
        loaded_until={sid: max(v) for sid, v in stream_days.items() if v},
        kpi_inputs={
            "intro_calls": (ids["events"],),
            "call_conversion_rate": (ids["events"], ids["invitees"]),
            "newsletter_new_subscribers": (ids["activity"],),
            "newsletter_cold_subscriber_share": (ids["members"],),
        },
        limits={
            ids["activity"]: (180, "Mailchimp serves list activity for the previous 180 days only")
        },
    )


def test_only_the_streams_a_kpi_reads_decide_its_coverage():
    cov = coverage(events=days(START, D(2026, 11, 30)), invitees=set())
    assert cov.judge("intro_calls", "sum", D(2026, 11, 1), D(2026, 11, 30)).uncovered is None
    assert (
        cov.judge("call_conversion_rate", "ratio", D(2026, 11, 1), D(2026, 11, 30)).uncovered
        == "calendly/invitees never loaded (run kpi sync)"
    )


def test_a_stream_that_stopped_and_one_with_a_hole_say_which_days():
    stopped = coverage(events=days(START, D(2026, 11, 20)))
    assert (
        stopped.judge("intro_calls", "sum", D(2026, 11, 1), D(2026, 11, 30)).uncovered
        == "calendly/scheduled_events not loaded after 2026-11-20 (failed or not synced since)"
    )
    hole = coverage(events=days(START, D(2026, 11, 30)) - days(D(2026, 11, 3), D(2026, 11, 4)))
    reason = hole.judge("intro_calls", "sum", D(2026, 11, 1), D(2026, 11, 30)).uncovered
    assert reason.startswith("calendly/scheduled_events not loaded for 2026-11-03..2026-11-04")
    assert "kpi sync --start 2026-11-03 --end 2026-11-04" in reason


def test_a_period_before_history_start_is_partial_with_its_span():
    verdict = coverage(events=days(START, D(2026, 11, 30))).judge(
        "intro_calls", "sum", D(2026, 4, 1), D(2026, 6, 30)
    )
    assert verdict.uncovered is None and verdict.partial_from == START
    assert verdict.note.startswith("since 2026-06-01: history_start is 2026-06-01")


def test_a_platforms_history_limit_is_partial_but_a_late_first_sync_is_a_gap():
    # list activity cut at the platform's 180 days: 2026-06-04 is 180 days before 2026-11-30
    limited = coverage(activity=days(D(2026, 6, 4), D(2026, 11, 30)))
    verdict = limited.judge("newsletter_new_subscribers", "sum", D(2026, 6, 1), D(2026, 6, 30))
    assert verdict.partial_from == D(2026, 6, 4) and "180 days" in verdict.note
    # loads that merely started late (the platform still serves those days) are a gap to fill
    late = coverage(activity=days(D(2026, 9, 10), D(2026, 11, 30)))
    verdict = late.judge("newsletter_new_subscribers", "sum", D(2026, 9, 1), D(2026, 9, 30))
    assert verdict.partial_from is None and verdict.uncovered.startswith(
        "mailchimp/list_activity not loaded for 2026-09-01..2026-09-09"
    )


def test_a_level_needs_only_its_day_and_a_point_in_time_stream_is_never_required():
    cov = coverage(events=days(D(2026, 11, 20), D(2026, 11, 30)), members={D(2026, 11, 30)})
    assert cov.judge("intro_calls", "last", D(2026, 11, 1), D(2026, 11, 30)).uncovered is None
    assert cov.required("newsletter_cold_subscriber_share") == []
    assert cov.unrecorded("newsletter_cold_subscriber_share", D(2026, 11, 30)) == []
    assert cov.unrecorded("newsletter_cold_subscriber_share", D(2026, 11, 26)) == [
        ("mailchimp", "members")
    ]


def test_a_custom_kpi_is_covered_through_its_last_date_entered():
    cov = Coverage(
        history_start=START,
        stream_days={("manual", "metrics"): days(START, D(2026, 12, 6))},
        loaded_until={("manual", "metrics"): D(2026, 12, 6)},
        kpi_inputs={"treatments": (("manual", "metrics"),)},
        manual_last={"treatments": D(2026, 11, 23)},
    )
    november = cov.judge("treatments", "sum", D(2026, 11, 1), D(2026, 11, 30))
    assert november.uncovered is None and november.through == D(2026, 11, 23)
    assert november.note.startswith("through 2026-11-23, the last date entered in the CSV")
    december = cov.judge("treatments", "sum", D(2026, 12, 1), D(2026, 12, 6))
    assert december.uncovered.startswith(
        "manual/metrics: the CSV has treatments through 2026-11-23"
    )
    assert cov.kpi_days("treatments", D(2026, 12, 6)) == days(START, D(2026, 11, 23))


class _Settings:
    """What through_from_loads reads of the settings: the enabled sources and the custom KPIs."""

    custom_kpis: list = []

    def __init__(self, *sources: str) -> None:
        self.sources = sources

    def enabled_sources(self) -> dict:
        return dict.fromkeys(self.sources)


def test_a_source_whose_as_of_now_streams_were_never_recorded_is_loaded_through_its_other_streams():
    from kpi_pipeline.kpi.coverage import through_from_loads

    daily = [
        ("mailchimp", s, D(2026, 11, 6))
        for s in ("campaign_reports", "campaign_opens", "growth_history", "list_activity")
    ]
    # a back-dated first sync: Mailchimp serves lists and members only as of now
    assert through_from_loads(daily, _Settings("mailchimp")) == {"mailchimp": D(2026, 11, 6)}
    # once recorded, a point-in-time stream counts: members last recorded on the 2nd hold it back
    later = daily + [
        ("mailchimp", "lists", D(2026, 11, 6)),
        ("mailchimp", "members", D(2026, 11, 2)),
    ]
    assert through_from_loads(later, _Settings("mailchimp")) == {"mailchimp": D(2026, 11, 2)}
    # a daily stream never loaded still means not loaded yet
    assert through_from_loads(daily[1:], _Settings("mailchimp")) == {}
    assert through_from_loads([], _Settings("mailchimp", "stripe")) == {}

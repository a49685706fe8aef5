"""A long load says how far it is: at most every 2 s (a fake clock), rows, requests, the day
reached in its window and the time left at the pace so far."""

import datetime as dt

import pyarrow as pa

from connectors.mailchimp.connector import STREAMS
from connectors.streams import Window
from kpi_pipeline.warehouse.loading import Progress

SPEC = STREAMS["campaign_reports"]  # daily, dated by send_date
START, END = dt.date(2026, 1, 1), dt.date(2026, 1, 10)


def page(day):
    return pa.table({SPEC.date_column: pa.array([day, day - dt.timedelta(days=1)], pa.date32())})


def test_progress_lines_come_every_two_seconds_with_the_day_reached_and_the_time_left():
    now = [0.0]
    said = []
    progress = Progress(said.append, SPEC, Window(START, END), clock=lambda: now[0])
    for seconds, day in (
        (0.5, dt.date(2026, 1, 2)),
        (1.5, dt.date(2026, 1, 3)),
        (2.0, dt.date(2026, 1, 5)),
    ):
        now[0] = seconds
        progress.tick(rows=int(seconds * 100), requests=int(seconds * 2), batch=page(day))
    # 5 of 10 days in 2 s: 2 s more at that pace; nothing said before 2 s had passed
    assert said == [
        "mailchimp/campaign_reports: 200 rows in 4 requests, through 2026-01-05 of "
        "2026-01-01..2026-01-10 (50%), about 2s left"
    ]
    now[0] = 3.0
    progress.tick(
        rows=300, requests=6, batch=page(dt.date(2026, 1, 4))
    )  # an earlier day: still the 5th reached
    now[0] = 4.5
    progress.tick(rows=400, requests=8, batch=pa.table({"other": [1]}))  # a page without dates
    assert (
        len(said) == 2 and "through 2026-01-05" in said[1] and "400 rows in 8 requests" in said[1]
    )


def test_a_file_says_the_share_of_it_read_and_the_time_left_at_that_pace():
    now = [0.0]
    said = []
    progress = Progress(
        said.append, SPEC, Window(dt.date(1900, 1, 1), dt.date(2999, 12, 31)), clock=lambda: now[0]
    )
    now[0] = 2.0
    progress.tick(rows=1000, requests=0, batch=page(dt.date(2026, 1, 5)), done=0.25)
    now[0] = 8.0
    progress.tick(rows=4000, requests=0, batch=page(dt.date(2026, 1, 1)), done=1.0)
    assert said == [
        "mailchimp/campaign_reports: 1,000 rows in 0 requests, 25% of the file read, about 6s left",
        "mailchimp/campaign_reports: 4,000 rows in 0 requests, 100% of the file read",
    ]

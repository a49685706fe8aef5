"""A small raw table, t__s (a day, an item, an amount), loaded the way a stream's load lands, for
the tests of the warehouse (test_warehouse.py) and of its published copy (test_published_copy.py).

A helper module, not a test module, so neither test file imports the other.
"""

import datetime as dt

import pyarrow as pa

COLUMNS = [("day", "DATE"), ("item", "VARCHAR"), ("amount", "BIGINT")]
BASE = dt.date(2026, 1, 1)


def batch(rows, business="b"):
    return pa.table(
        {
            "business_id": [business] * len(rows),
            "day": [r[0] for r in rows],
            "item": [r[1] for r in rows],
            "amount": [r[2] for r in rows],
            "_account": ["acc"] * len(rows),
            "_record": ["{}"] * len(rows),
            "_synced_at": [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * len(rows),
        }
    )


def load(wh, start, end, rows, batches=None):
    return wh.replace_range(
        "t__s",
        COLUMNS,
        ("day", "item"),
        "day",
        start,
        end,
        batches if batches is not None else [batch(rows, wh.business_id)],
    )


def table(wh):
    return sorted(wh.query("select day, item, amount from raw.t__s"))

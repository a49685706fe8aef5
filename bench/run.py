"""Benchmarks: each figure is a ratio against a baseline measured in the same run.

    make bench        # writes bench/RESULTS.md

1. Range replace: our staged Arrow bulk load vs a row-by-row executemany (baseline).
2. Mailchimp fetch through the SDK from the sandbox: pages of 1000 (ours) vs 100 (baseline).
3. The KPI models: rebuilding every model vs loading the raw data they read (baseline).
4. A whole Dagster run over 300 daily partitions vs 30 (baseline): the per-partition cost of
   Dagster's event log (one planned and one materialization event per partition and asset).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa  # noqa: E402

from connectors.mailchimp import STREAMS, MailchimpClient  # noqa: E402
from connectors.sandbox import CREDENTIALS, Sandbox  # noqa: E402
from connectors.streams import StreamContext, Window  # noqa: E402
from kpi_pipeline.config import load_config  # noqa: E402
from kpi_pipeline.loading import load_stream  # noqa: E402
from kpi_pipeline.models import run_models  # noqa: E402
from kpi_pipeline.warehouse import Warehouse  # noqa: E402

AS_OF = dt.date(2026, 11, 15)
ROOT = Path(__file__).resolve().parent


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def bench_range_replace(tmp: Path):
    n = 50_000
    day = dt.date(2026, 1, 1)
    rows = [(day + dt.timedelta(days=i % 300), f"k{i}", i) for i in range(n)]
    cols = [("day", "DATE"), ("item", "VARCHAR"), ("amount", "BIGINT")]
    table = pa.table({"business_id": ["b"] * n, "day": [r[0] for r in rows], "item": [r[1] for r in rows],
                      "amount": [r[2] for r in rows], "_account": ["a"] * n, "_record": ["{}"] * n,
                      "_synced_at": [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * n})
    wh = Warehouse(tmp / "bulk.duckdb", "b")

    def ours():
        wh.replace_range("t__s", cols, ("day", "item"), "day", day, day + dt.timedelta(days=299), [table])

    base = Warehouse(tmp / "rows.duckdb", "b")

    def baseline():
        with base.writer() as con:
            base.ensure_raw_table(con, "t__s", cols, ("day", "item"))
            con.execute("begin transaction")
            con.execute("delete from raw.t__s")
            con.executemany("insert into raw.t__s (business_id, day, item, amount, _account, _record, _synced_at) "
                            "values ('b', ?, ?, ?, 'a', '{}', now())", rows[:5000])
            con.execute("commit")

    t_ours, _ = best_of(ours)
    t_base, _ = best_of(baseline, repeat=1)
    t_base_full = t_base * n / 5000  # row-by-row measured on 5,000 rows, scaled to 50,000
    return ("range replace, 50,000 rows", "row-by-row executemany (5,000 rows measured, scaled)",
            t_base_full, t_ours)


def bench_fetch(sandbox: Sandbox):
    spec = STREAMS["members"]

    def fetch(page_size):
        client = MailchimpClient(CREDENTIALS["mailchimp"]["api_key"], sandbox.urls["mailchimp"])
        for _ in client.paged("members", "/lists/a1b2c3d4e5/members", client.sdk.lists.get_list_members_info,
                              "members", page_size=page_size, list_id="a1b2c3d4e5", status="subscribed",
                              fields=["members.id", "members.status", "total_items"]):
            pass

    t_ours, _ = best_of(lambda: fetch(1000))
    t_base, _ = best_of(lambda: fetch(100))
    return (f"fetch {spec.name} (about 2,400 members)", "pages of 100", t_base, t_ours)


def bench_models(sandbox: Sandbox, tmp: Path):
    settings = load_config(ROOT.parent / "kpi.yaml").model_copy(update={"history_start": dt.date(2025, 6, 1)})
    wh = Warehouse(tmp / "models.duckdb", settings.business_id)
    client = MailchimpClient(CREDENTIALS["mailchimp"]["api_key"], sandbox.urls["mailchimp"])

    def load_all():
        for spec in STREAMS.values():
            load_stream(spec, client, Window(settings.history_start, AS_OF),
                        StreamContext(settings.timezone, AS_OF, AS_OF), wh)

    t_base, _ = best_of(load_all, repeat=1)
    t_ours, _ = best_of(lambda: run_models(wh, settings, AS_OF))
    return ("rebuild every model (18 months of newsletter data)", "landing the raw data it reads", t_base, t_ours)


def bench_dagster(sandbox: Sandbox, tmp: Path):
    import io

    from kpi_pipeline.run import run_pipeline

    os.environ["MAILCHIMP_API_KEY"] = CREDENTIALS["mailchimp"]["api_key"]
    os.environ["KPI_TODAY"] = (AS_OF + dt.timedelta(days=1)).isoformat()
    times = {}
    for days in (30, 300):
        folder = tmp / f"dagster{days}"
        folder.mkdir()
        os.environ["DAGSTER_HOME"] = str(folder / ".dagster")
        (folder / "kpi.yaml").write_text(
            f"business: Bench\nhistory_start: 2025-01-01\nsources:\n  mailchimp: "
            f"{{api_key: \"${{MAILCHIMP_API_KEY}}\", base_url: \"{sandbox.urls['mailchimp']}\"}}\n")
        settings = load_config(folder / "kpi.yaml")
        start = time.perf_counter()
        outcome = run_pipeline(settings, AS_OF, start=AS_OF - dt.timedelta(days=days - 1), end=AS_OF,
                               out=io.StringIO())
        assert outcome.success
        times[days] = time.perf_counter() - start
    return ("Dagster run over 300 daily partitions", "the same run over 30", times[30], times[300])


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder, Sandbox(AS_OF) as sandbox:
        tmp = Path(folder)
        results = [bench_range_replace(tmp), bench_fetch(sandbox), bench_models(sandbox, tmp),
                   bench_dagster(sandbox, tmp)]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    lines = ["# Benchmark results", "",
             f"Measured {dt.date.today()} by `make bench` on {machine}. Each row times ours and a baseline",
             "in the same run; the ratio is baseline time / our time (higher is better for us).", "",
             "| benchmark | baseline | baseline s | ours s | ratio |", "| --- | --- | ---: | ---: | ---: |"]
    for name, base_name, t_base, t_ours in results:
        lines.append(f"| {name} | {base_name} | {t_base:.3f} | {t_ours:.3f} | {t_base / t_ours:.1f}x |")
    lines += ["", "Reading the rows: the bulk load and the page size are choices we made against their",
              "baselines. The models row says rebuilding every KPI costs a fraction of landing the data.",
              "The Dagster row is a cost we carry: below 1x means 300 partitions take that many times",
              "longer than 30, almost all of it Dagster recording one planned and one materialization",
              "event per partition and raw asset (SQLite storage cannot record a partition range as one",
              "event); it is most of the demo's first run (14 months x 21 raw assets: two to three minutes)."]
    text = "\n".join(lines) + "\n"
    (ROOT / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

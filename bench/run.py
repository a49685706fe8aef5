"""Benchmarks: every figure is a ratio against a baseline measured in the same run, on this machine.

    make bench        # installs the bench extra (dlt), runs everything, rewrites bench/RESULTS.md

1. Start-up: loading definitions.py against a bare `import dagster`.
2. First run: `kpi demo` over 14 months, over 3 years (against 14 months), on Dagster's SQLite
   instance and on PostgreSQL (a throwaway cluster, tests/pg.py).
3. Nightly: `kpi sync` for yesterday on the demo, and on a year of history against the sandbox in a
   process of its own, against the sum of its streams' own fetch-and-load seconds; requests per
   stream and rows rewritten outside each stream's window.
4. Ingest: a Mailchimp audience of 100,000 and 1,000,000 members landed by our connector, by the
   floor (fetch, JSON-decode, bulk insert from Arrow) and by dlt; rows per second, peak memory.
5. KPI build at scale: the 3-year demo warehouse at 50x and 100x its volume, built by our code
   against the same model SQL run straight in DuckDB.
   (Sections 4 and 5 are in bench/ingest_scale.py; the table's rows in bench/rows.py.)
6. Portfolio scale (bench/portfolio.py): 1, 10 and 100 businesses, first backfill, nightly, peak
   memory and Dagster's storage, on SQLite and on PostgreSQL.
7. The nightly by sources (bench/sources.py): a one-, two- and nine-source business against
   platforms answering in 150 ms, each against its own streams' seconds (`python bench/sources.py
   --setups one` runs one of them alone).

Benchmarks are not tests: nothing here fails on a time; the goals column says met or missed.
`python bench/run.py --quick` runs smaller sizes (for trying the bench itself).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import sources  # noqa: E402
from bench.harness import (
    AS_OF,
    DEMO_TODAY,
    ROOT,
    RemoteSandbox,
    base_env,
    demo_folder,
    kpi,
    live_env,  # noqa: E402
    live_folder,
    python,
    stream_lines,
    timed,
)
from bench.ingest_scale import ingest, kpi_build  # noqa: E402
from bench.portfolio import SIZES, record, section  # noqa: E402
from bench.portfolio import scale as portfolio_scale
from bench.rows import LATENCY, NOTES, QUICK, ROWS, row, verdict  # noqa: E402

# ---------------------------------------------------------------------------- 1. start-up


def startup(tmp: Path) -> None:
    env = base_env(tmp / "startup" / ".dagster", DEMO_TODAY)
    env["KPI_CONFIG"] = str(ROOT / "kpi.yaml")
    timed(python("-c", "import definitions"), env=env, cwd=ROOT)  # fills the SQL parse cache once

    def best(code: str) -> float:
        return min(timed(python("-c", code), env=env, cwd=ROOT).seconds for _ in range(5))

    bare, defs = best("import dagster"), best("import dagster, definitions")
    row(
        "start-up: load definitions.py",
        f"{defs:.2f}s",
        f"`import dagster` {bare:.2f}s",
        defs / bare,
        f"at most 1 s more: {defs - bare:+.2f}s, {verdict(defs - bare <= 1.0)}",
    )


# ---------------------------------------------------------------------------- 2. first runs


def first_run(
    folder: Path, history_start: dt.date, postgres_url: str | None = None
) -> tuple[float, str]:
    config = demo_folder(folder, history_start)
    home = folder / ".dagster"
    if postgres_url:
        from tests.pg import instance_yaml

        home.mkdir()
        (home / "dagster.yaml").write_text(instance_yaml(postgres_url))
    result = timed(kpi("demo", "--config", str(config)), env=base_env(home, DEMO_TODAY), cwd=folder)
    assert result.code == 0, result.output[-3000:]
    return result.seconds, result.output


def longest_silence(output: str) -> str:
    """Progress lines are printed as they come; the bench sees them at the end, so this reports how
    many lines the run printed per stream instead (the README shows the live output)."""
    count = sum(1 for line in output.splitlines() if "left" in line or line.startswith("  > "))
    return f"{count} progress lines"


def first_runs(tmp: Path, postgres_url: str | None) -> Path:
    months14 = DEMO_TODAY.replace(year=DEMO_TODAY.year - 1, month=10, day=1)
    years3 = DEMO_TODAY.replace(year=DEMO_TODAY.year - 3)
    t14, out14 = first_run(tmp / "demo14", months14)
    row(
        "first run: `kpi demo`, 14 months",
        f"{t14:.1f}s",
        "goal 60 s",
        t14 / 60,
        f"at most 60 s, {verdict(t14 <= 60)}; {longest_silence(out14)}",
    )
    t3y, _ = first_run(tmp / "demo3y", years3)
    row(
        "first run: `kpi demo`, 3 years",
        f"{t3y:.1f}s",
        f"14 months {t14:.1f}s",
        t3y / t14,
        f"at most 2x: {verdict(t3y <= 2 * t14)}",
    )
    if postgres_url:
        tpg, _ = first_run(tmp / "demo3y_pg", years3, postgres_url)
        row(
            "first run: `kpi demo`, 3 years, PostgreSQL storage",
            f"{tpg:.1f}s",
            f"SQLite {t3y:.1f}s",
            tpg / t3y,
            "recorded (the path beyond one machine)",
        )
    demo_nightly(tmp / "demo14")
    return tmp / "demo3y" / "data" / "warehouse.duckdb"


def demo_nightly(folder: Path) -> None:
    env = base_env(folder / ".dagster", DEMO_TODAY)
    runs = [
        timed(kpi("sync", "--config", str(folder / "kpi.yaml")), env=env, cwd=folder)
        for _ in range(3)
    ]
    assert all(r.code == 0 for r in runs), runs[-1].output[-3000:]
    wall = statistics.median(r.seconds for r in runs)
    streams = statistics.median(sum(s[3] for s in stream_lines(r.output)) for r in runs)
    row(
        "nightly `kpi sync` on the demo (sandbox in process)",
        f"{wall:.1f}s",
        f"streams {streams:.1f}s",
        wall / streams,
        f"at most 15 s: {verdict(wall <= 15)}",
    )


# ---------------------------------------------------------------------------- 3. nightly, a year


def year_nightly(
    tmp: Path,
    sandbox: RemoteSandbox,
    label: str,
    postgres_url: str | None = None,
    first_too: bool = True,
) -> None:
    import duckdb

    from connectors.registry import SOURCES

    folder = tmp / ("year_" + re.sub(r"\W+", "_", label))
    start = AS_OF - dt.timedelta(days=365)
    config = live_folder(folder, sandbox, start)
    home = folder / ".dagster"
    if postgres_url:
        from tests.pg import instance_yaml

        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text(instance_yaml(postgres_url))
    env = live_env(sandbox, home, AS_OF + dt.timedelta(days=1))
    first = timed(
        kpi(
            "sync",
            "--config",
            str(config),
            "--as-of",
            str(AS_OF - dt.timedelta(days=1)),
            "--start",
            str(start),
        ),
        env=env,
        cwd=folder,
    )
    assert first.code == 0, first.output[-3000:]
    before = dt.datetime.now(dt.timezone.utc)
    night = timed(kpi("sync", "--config", str(config), "--as-of", str(AS_OF)), env=env, cwd=folder)
    assert night.code == 0, night.output[-3000:]
    lines = stream_lines(night.output)
    streams = sum(s[3] for s in lines)
    specs = {
        f"raw/{spec.table}": spec
        for _, (_, declared) in SOURCES.items()
        for spec in declared.values()
    }
    outside = 0
    with duckdb.connect(str(folder / "data" / "warehouse.duckdb"), read_only=True) as con:
        for name, _, _, _, window in lines:
            spec = specs[name]
            first_day = window.split("..")[0]
            if not spec.daily or not first_day[:4].isdigit():
                # point-in-time and whole-history streams replace what they fetched, by design
                continue
            outside += con.execute(
                f"select count(*) from raw.{spec.table} where _synced_at >= ? and "
                f"{spec.date_column} < ?",
                [before, dt.date.fromisoformat(first_day)],
            ).fetchone()[0]
    row(
        f"nightly `kpi sync`, a year of history ({label})",
        f"{night.seconds:.1f}s",
        f"streams {streams:.1f}s",
        night.seconds / streams,
        f"at most 2x: {verdict(night.seconds <= 2 * streams)}; rows rewritten outside the "
        f"windows: {outside}",
    )
    if first_too:
        row(
            f"first sync of that year ({label})",
            f"{first.seconds:.1f}s",
            f"nightly {night.seconds:.1f}s",
            first.seconds / night.seconds,
            "recorded",
        )
    if label == "SQLite":
        NOTES.append(
            "Requests per stream in the nightly run (window fetched, rows, requests):\n\n"
            "| stream | window | rows | requests |\n| --- | --- | ---: | ---: |\n"
            + "\n".join(f"| {s[0]} | {s[4]} | {s[1]:,} | {s[2]} |" for s in lines)
        )


def main() -> None:
    from tests import pg

    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as name:
        tmp = Path(name)
        startup(tmp)
        with pg.throwaway_cluster() if pg.available() else _nothing() as url:
            warehouse = first_runs(tmp, url)
            with RemoteSandbox() as sandbox:
                year_nightly(tmp, sandbox, "SQLite")
                if url:
                    year_nightly(tmp, sandbox, "PostgreSQL", url)
            with RemoteSandbox(
                latency=LATENCY
            ) as slow:  # the same against platforms that answer as late as real ones
                year_nightly(
                    tmp,
                    slow,
                    f"SQLite, platforms answering in {LATENCY * 1000:.0f} ms",
                    first_too=False,
                )
        by_sources = sources.measured_section(
            tmp, list(sources.SETUPS), 1 if QUICK else sources.NIGHTS
        )
        ingest(tmp)
        kpi_build(tmp, warehouse)
        with pg.throwaway_cluster() if pg.available() else _nothing() as url:
            portfolio = portfolio_scale(tmp, url, SIZES if not QUICK else ((1, 1), (3, 1)))
    write_results()
    record(by_sources, begin=sources.BEGIN, end=sources.END)
    record(section(portfolio))


class _nothing:
    def __enter__(self) -> None:
        NOTES.append("PostgreSQL is not installed here: its rows are missing.")

    def __exit__(self, *exc: object) -> None:
        pass


def write_results() -> None:
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Measured {dt.date.today()} by `make bench`{' --quick' if QUICK else ''} on {machine}.",
        "Every ratio is against a baseline measured in the same run: for goals with a bound, the",
        "ratio is ours over the baseline (lower is better) unless the row says otherwise.",
        "",
        "| what | ours | baseline | ratio | goal |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in ROWS]
    lines += ["", *(f"{note}\n" for note in NOTES)]
    text = "\n".join(lines).rstrip() + "\n"
    (ROOT / "bench" / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Portfolio scale: 1, 10 and 100 businesses on one machine, on SQLite and on PostgreSQL storage.

Each business is a folder as an agency would keep it (businesses/<slug>/kpi.yaml and its own .env
with its credentials), two sources (Mailchimp and Stripe) against the sandbox served from a process
of its own, 28 days of history. Measured per size, through `kpi sync` over the portfolio (a process
per business, two at a time on this 2-core machine):

- the first backfill (`kpi sync --history`): wall time, peak memory of all processes together;
- the nightly run (each business its own run, its lookback): wall time, peak memory;
- Dagster's storage after the nights simulated (the instance folder, or the PostgreSQL database),
  and the growth per night, from which a month of nights follows.

`python bench/portfolio.py [--sizes 1,10,100 --nights 2]` (make bench-portfolio) measures and puts
its section into bench/RESULTS.md; `make bench` runs it too.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import AS_OF, ROOT, RemoteSandbox, base_env, kpi  # noqa: E402

HISTORY_DAYS = 28
JOBS = 2


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    code: int
    output: str


def _children(pid: int, table: dict[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(table.get(p, []))
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc), in MB."""
    table: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            table.setdefault(ppid, []).append(int(entry))
    total = 0
    for p in _children(pid, table):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def measured(args: list[str], env: dict[str, str], cwd: Path) -> Measured:
    """Wall time and the peak of the whole process tree's memory (sampled every 0.2 s)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True
    )
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return Measured(seconds, peak[0], proc.returncode, output)


def write_portfolio(root: Path, count: int, sandbox: RemoteSandbox, history_start: dt.date) -> None:
    from connectors.sandbox import CREDENTIALS

    for i in range(count):
        folder = root / "businesses" / f"b{i:03d}"
        folder.mkdir(parents=True)
        (folder / "kpi.yaml").write_text(
            f"business: Business {i:03d}\ntimezone: Europe/Brussels\ncurrency: EUR\nhistory_start: "
            f"{history_start}\nsources:\n"
            '  mailchimp: {api_key: "${MAILCHIMP_API_KEY}", base_url: '
            f'"{sandbox.urls["mailchimp"]}"}}\n  stripe: {{api_key: "${{STRIPE_API_KEY}}", '
            f'base_url: "{sandbox.urls["stripe"]}"}}\n'
            f"targets:\n  revenue: {{month: {10000 + 100 * i}}}\n  newsletter_new_subscribers: "
            "{month: 100}\n"
        )
        (folder / ".env").write_text(
            f"MAILCHIMP_API_KEY={CREDENTIALS['mailchimp']['api_key']}\n"
            f"STRIPE_API_KEY={CREDENTIALS['stripe']['api_key']}\n"
        )


def storage_mb(home: Path, postgres_url: str | None) -> float:
    if postgres_url:
        import sqlalchemy

        engine = sqlalchemy.create_engine(postgres_url)
        with engine.connect() as con:
            size = con.execute(
                sqlalchemy.text("select pg_database_size(current_database())")
            ).scalar()
        engine.dispose()
        return size / 1e6
    return sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) / 1e6


def database(cluster_url: str, name: str) -> str:
    """A fresh database on the cluster; its URL."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(cluster_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(sqlalchemy.text(f"drop database if exists {name}"))
        con.execute(sqlalchemy.text(f"create database {name}"))
    engine.dispose()
    return cluster_url.replace("/postgres?", f"/{name}?", 1)


@dataclass
class SizeResult:
    businesses: int
    storage: str
    backfill: Measured
    nightly: Measured
    nights: int
    storage_after_backfill: float
    storage_after_nights: float

    @property
    def per_night_mb(self) -> float:
        return (self.storage_after_nights - self.storage_after_backfill) / max(self.nights, 1)

    def month_mb(self) -> float:
        return self.storage_after_backfill + 30 * self.per_night_mb


def run_size(
    tmp: Path,
    count: int,
    sandbox: RemoteSandbox,
    nights: int,
    postgres_url: str | None = None,
    say=print,
) -> SizeResult:
    label = "PostgreSQL" if postgres_url else "SQLite"
    root = tmp / f"portfolio-{count}-{label.lower()}"
    first_night = AS_OF - dt.timedelta(days=nights - 1)
    write_portfolio(root, count, sandbox, first_night - dt.timedelta(days=HISTORY_DAYS))
    home = root / ".dagster"
    url = database(postgres_url, f"pf_{count}") if postgres_url else None
    if url:
        from tests.pg import instance_yaml

        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text(instance_yaml(url))
    day_before = first_night - dt.timedelta(days=1)
    env = base_env(home, day_before + dt.timedelta(days=1))
    backfill = measured(
        kpi("sync", "--history", "--as-of", day_before.isoformat(), "--jobs", str(JOBS)), env, root
    )
    if backfill.code != 0:
        raise RuntimeError(
            f"{count} businesses, {label}: the backfill failed:\n{backfill.output[-3000:]}"
        )
    after_backfill = storage_mb(home, url)
    say(
        f"  {count} on {label}: backfill {backfill.seconds:.0f}s, peak {backfill.peak_mb:.0f} MB, "
        f"storage {after_backfill:.1f} MB"
    )
    nightly = None
    for n in range(nights):
        as_of = first_night + dt.timedelta(days=n)
        env = base_env(home, as_of + dt.timedelta(days=1))
        nightly = measured(
            kpi("sync", "--as-of", as_of.isoformat(), "--jobs", str(JOBS)), env, root
        )
        if nightly.code != 0:
            raise RuntimeError(
                f"{count} businesses, {label}: night {as_of} failed:\n{nightly.output[-3000:]}"
            )
        say(
            f"  {count} on {label}: night {as_of} {nightly.seconds:.0f}s, peak "
            f"{nightly.peak_mb:.0f} MB"
        )
    assert nightly is not None
    return SizeResult(
        count, label, backfill, nightly, nights, after_backfill, storage_mb(home, url)
    )


SIZES = ((1, 2), (10, 2), (100, 1))  # (businesses, nights simulated after the backfill)
BEGIN, END = "<!-- portfolio -->", "<!-- /portfolio -->"


def scale(tmp: Path, postgres_url: str | None, sizes=SIZES, say=print) -> list[SizeResult]:
    """Every size on SQLite, then (with a cluster) on PostgreSQL."""
    results = []
    with RemoteSandbox() as sandbox:
        for url in [None, postgres_url] if postgres_url else [None]:
            for count, nights in sizes:
                results.append(run_size(tmp, count, sandbox, nights, url, say))
    return results


def section(results: list[SizeResult]) -> str:
    """The portfolio rows of RESULTS.md: the cost curve per storage,
    each size against one business."""
    lines = [
        BEGIN,
        "## Portfolio scale",
        "",
        f"Businesses of two sources (Mailchimp, Stripe; {HISTORY_DAYS} days of history) against "
        "the sandbox in a process of its own, synced by `kpi sync` over the portfolio: a process "
        f"per business, {JOBS} at a time. Peak memory is all processes together (sampled every "
        "0.2 s). Storage is Dagster's (the instance folder, or the PostgreSQL database); a month "
        "of nights is the backfill's storage plus 30 times the growth of the nights simulated.",
        "",
        "| storage | businesses | first backfill | per business | nightly | per business | ratio "
        "to 1 business (nightly, per business) | peak memory (backfill / nightly) | storage after "
        "backfill | per night | a month of nights |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = {r.storage: r for r in results if r.businesses == min(x.businesses for x in results)}
    for r in results:
        one = base[r.storage]
        ratio = (r.nightly.seconds / r.businesses) / (one.nightly.seconds / one.businesses)
        lines.append(
            f"| {r.storage} | {r.businesses} | {r.backfill.seconds:.0f}s | "
            f"{r.backfill.seconds / r.businesses:.1f}s | {r.nightly.seconds:.0f}s | "
            f"{r.nightly.seconds / r.businesses:.1f}s | {ratio:.2f}x | {r.backfill.peak_mb:,.0f} / "
            f"{r.nightly.peak_mb:,.0f} MB | {r.storage_after_backfill:,.1f} MB | "
            f"{r.per_night_mb:,.1f} MB ({r.nights} night{'s' if r.nights > 1 else ''}) | "
            f"{r.month_mb():,.0f} MB |"
        )
    return "\n".join(lines + ["", END])


def record(
    text: str,
    results_file: Path = ROOT / "bench" / "RESULTS.md",
    begin: str = BEGIN,
    end: str = END,
) -> None:
    """Put a section (the portfolio's by default) into RESULTS.md, replacing the last one between
    ``begin`` and ``end`` (the other rows stay)."""
    old = results_file.read_text() if results_file.exists() else "# Benchmark results\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    results_file.write_text(new)


def main() -> None:
    import tempfile

    from tests import pg

    sizes = SIZES
    if arg("--sizes"):
        sizes = tuple((int(s), int(arg("--nights") or 2)) for s in arg("--sizes").split(","))
    with tempfile.TemporaryDirectory(prefix="kpi-bench-pf-") as name:
        with pg.throwaway_cluster() if pg.available() else _none() as url:
            results = scale(Path(name), url, sizes)
    text = section(results)
    record(text)
    print(text)


class _none:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        pass


def arg(flag: str) -> str | None:
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else None


if __name__ == "__main__":
    main()

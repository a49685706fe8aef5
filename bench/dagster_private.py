"""What each use of Dagster's internals (kpi_pipeline/orchestration/dagster_private.py) buys,
measured against Dagster's own behaviour, the fallback on an untested Dagster,
in the same run on this machine.

    .venv/bin/python bench/dagster_private.py          # prints a table for the README
    .venv/bin/python bench/dagster_private.py --quick  # smaller sizes, no `kpi demo`
    .venv/bin/python bench/dagster_private.py --no-demo  # without the two `kpi demo` runs

1. The event log: a run over 425 days of 4 daily assets (one run for the range, as `kpi sync`
   makes), on our event log against Dagster's stock SQLite one.
2. The first `kpi demo` (14 months) on the installed Dagster against the same with
   KPI_PRETEND_DAGSTER_VERSION set to an untested version (Dagster's storage and stop).
3. Stopping a run that waits for a pool: our stop (an exception raised in the run's thread)
   against Dagster's own Ctrl-C, which waits until the pool frees (here: freed after CAP s).

Not a test: nothing fails on a time.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg  # noqa: E402

from bench.harness import DEMO_TODAY, base_env, demo_folder, kpi, timed  # noqa: E402
from kpi_pipeline.orchestration import dagster_private  # noqa: E402
from kpi_pipeline.orchestration.instance_setup import EVENT_LOG_BLOCK, INSTANCE_YAML  # noqa: E402

QUICK = "--quick" in sys.argv
DAYS = 60 if QUICK else 425
CAP = 10.0  # seconds the pool stays held after Dagster's own stop was asked for
PARTS = dg.DailyPartitionsDefinition(start_date="2025-10-01")


def _assets() -> list[dg.AssetsDefinition]:
    def make(name: str) -> dg.AssetsDefinition:
        @dg.asset(name=name, partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
        def _asset() -> None:
            pass

        return _asset

    return [make(f"stream_{n}") for n in range(4)]


def event_log(tmp: Path) -> tuple[float, float]:
    """Seconds of one range run on our event log and on Dagster's stock one."""
    job = dg.Definitions(assets=_assets()).resolve_implicit_global_asset_job_def()
    last = PARTS.get_partition_keys()[DAYS - 1]
    os.environ["DAGSTER_EVENT_BATCH_SIZE"] = "1000"  # as `kpi sync` sets it
    seconds = []
    for name, text in (("ours", INSTANCE_YAML + EVENT_LOG_BLOCK), ("stock", INSTANCE_YAML)):
        home = tmp / name
        home.mkdir()
        (home / "dagster.yaml").write_text(text)
        os.environ["DAGSTER_HOME"] = str(home)  # where our event log's files go without a base_dir
        with dg.DagsterInstance.from_config(str(home)) as instance:
            start = time.perf_counter()
            result = job.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": "2025-10-01",
                    "dagster/asset_partition_range_end": last,
                },
            )
            seconds.append(time.perf_counter() - start)
            assert result.success
    return seconds[0], seconds[1]


def first_demo(tmp: Path) -> tuple[float, float]:
    """Seconds of the first `kpi demo` over 14 months on the installed Dagster and pretending an
    untested one."""
    months14 = DEMO_TODAY.replace(year=DEMO_TODAY.year - 1, month=10, day=1)
    seconds = []
    for name, pretend in (("tested", None), ("untested", "1.99.0")):
        folder = tmp / f"demo_{name}"
        config = demo_folder(folder, months14)
        env = base_env(folder / ".dagster", DEMO_TODAY) | (
            {dagster_private.PRETEND_ENV: pretend} if pretend else {}
        )
        result = timed(kpi("demo", "--config", str(config)), env=env, cwd=folder)
        assert result.code == 0, result.output[-3000:]
        seconds.append(result.seconds)
    return seconds[0], seconds[1]


@dg.asset(pool="bench_pool")
def _pooled() -> None:
    pass


def stop_waiting_run(tmp: Path) -> tuple[float, float]:
    """Seconds from asking a run that waits for a pool to stop until it has ended: ours (in a
    worker thread) and Dagster's own Ctrl-C (this main thread; the pool is freed after CAP s)."""
    home = tmp / "stop"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML + EVENT_LOG_BLOCK)
    os.environ["DAGSTER_HOME"] = str(home)
    job = dg.Definitions(assets=[_pooled]).resolve_implicit_global_asset_job_def()
    out = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("bench_pool", 1)

        def queued(run_id: str) -> bool:
            return any(
                s.run_id == run_id for s in storage.get_concurrency_info("bench_pool").pending_steps
            )

        for mode in ("ours", "dagster"):
            holder = str(uuid.uuid4())
            assert storage.claim_concurrency_slot("bench_pool", holder, "holder").is_claimed
            run_id = str(uuid.uuid4())
            asked = {}

            def ask(
                thread: threading.Thread | None,
                run_id: str = run_id,
                asked: dict = asked,
                holder: str = holder,
            ) -> None:  # this iteration's, bound
                while not queued(run_id):
                    time.sleep(0.05)
                asked["at"] = time.perf_counter()
                if thread is not None:
                    dagster_private.interrupt_thread(thread)
                else:
                    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, to Dagster's own handler
                    time.sleep(CAP)
                    dagster_private.free_pool_slots(instance, holder)

            def work(run_id: str = run_id) -> None:
                try:
                    job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
                except BaseException:  # noqa: BLE001 - the interrupt ends it
                    pass

            if mode == "ours":
                thread = threading.Thread(target=work, daemon=True)
                thread.start()
                ask(thread)
                thread.join()
            else:
                asker = threading.Thread(target=ask, args=(None,), daemon=True)
                asker.start()
                work()
                asker.join()
            out.append(time.perf_counter() - asked["at"])
            dagster_private.free_pool_slots(instance, holder)
            dagster_private.free_pool_slots(instance, run_id)
    return out[0], out[1]


def main() -> None:
    print(
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Dagster {dg.__version__}"
        + (" (--quick)" if QUICK else ""),
        flush=True,
    )
    print("| what | ours | Dagster's own | ratio |\n| --- | ---: | ---: | ---: |", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        ours, stock = event_log(tmp)
        print(
            f"| a run over {DAYS} days of 4 daily assets ({4 * DAYS} materializations) | "
            f"{ours:.1f}s | {stock:.1f}s | {stock / ours:.1f}x |",
            flush=True,
        )
        ours, theirs = stop_waiting_run(tmp)
        print(
            f"| stopping a run waiting for a pool, asked to its end | {ours:.2f}s | {theirs:.1f}s "
            f"(when the pool freed, after {CAP:.0f}s) | never, without the pool freeing |",
            flush=True,
        )
        if not QUICK and "--no-demo" not in sys.argv:
            ours, stock = first_demo(tmp)
            print(
                "| first `kpi demo`, 14 months (untested Dagster: stock storage and stop) | "
                f"{ours:.1f}s | {stock:.1f}s | {stock / ours:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()

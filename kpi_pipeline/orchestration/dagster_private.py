"""Every use kpi makes of Dagster's private internals, behind one door.

What each use buys (measured by bench/dagster_private.py; README "Performance", the paragraph
"Dagster's internals, behind one door"):

- :func:`event_log_storage_class`: Dagster's run-sharded SQLite event log with an engine kept per
  file and a batch of materializations written in one transaction per file (subclassing
  ``dagster._core...SqliteEventLogStorage``, replacing its ``_connect`` and calling its
  ``_initdb``, ``_initialized_dbs``, ``_db_lock`` and ``_store_asset_event*``). ``dagster.yaml``
  names it through ``kpi_pipeline.event_log.EventLogStorage``.
- :func:`interrupt_thread`: a run executing in a worker thread is stopped at once
  (``PyThreadState_SetAsyncExc``), even while a step waits for a pool, where Dagster defers
  Ctrl-C until the pool frees.
- :func:`free_pool_slots`: a dead or stopped run's pool slots and queued steps are freed at once
  with the storage call Dagster's daemon makes 60 s after a run ended.
- :func:`end_log_capture`: a run stopped by :func:`interrupt_thread` leaves no ``tail -F`` of its
  compute logs behind, even when the interrupt landed in Dagster's own clean-up of them.

These rely on internals that any Dagster release may change. They are used only on the Dagster
versions the tests ran on (:data:`TESTED_FROM` up to :data:`TESTED_BELOW`, pinned the same in
pyproject.toml). On any other version kpi falls back to Dagster's stock storage and Dagster's own
Ctrl-C handling, with one warning (:func:`tested`) naming the version and what is lost: a slower
instance, never a broken one (hand-freed slots stay wherever the call exists: see
:func:`free_pool_slots`). tests/test_dagster_private.py (the event log) and
tests/test_dagster_private_stops.py (stopping a run) have a test per behaviour relied on.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import tempfile
import threading
import warnings
from functools import lru_cache
from typing import Any, Protocol

import dagster as dg

from kpi_pipeline.orchestration.processes import processes

TESTED_FROM = (1, 13, 27)  # the Dagster versions tests/test_dagster_private*.py passed on
TESTED_BELOW = (1, 14)
PIN = "dagster>=1.13.27,<1.14"  # pyproject.toml's (a test holds them together)
# tests only: pretend this Dagster version (to show the fallback in a child process too)
PRETEND_ENV = "KPI_PRETEND_DAGSTER_VERSION"
STOCK_EVENT_LOG = (
    "dagster._core.storage.event_log",
    "SqliteEventLogStorage",
)  # where Dagster's config names it
LOST = (
    "Dagster's stock SQLite event log is used (the first `kpi demo` took 4.4x as long in "
    "bench/dagster_private.py), Ctrl-C and SIGTERM wait until a step can stop (not while it waits "
    "for a pool) and KPI_POOL_WAIT no longer gives up"
)


class _FromConfig(Protocol):
    """A storage class Dagster builds from dagster.yaml (its ``ConfigurableClass``, which lives in a
    private module)."""

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> Any: ...


class UntestedDagsterWarning(UserWarning):
    """The installed Dagster is outside the versions kpi's use of its internals was tested with."""


_warned = {"done": False}


def _one_line(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return f"warning: {message}\n"


def installed_version() -> str:
    """Dagster's version (or the one a test pretends, env KPI_PRETEND_DAGSTER_VERSION)."""
    return os.environ.get(PRETEND_ENV) or dg.__version__


def _numbers(version: str) -> tuple[int, ...] | None:
    found = re.fullmatch(
        r"(\d+)\.(\d+)\.(\d+)", version.strip()
    )  # a dev build ("1!0+dev") is untested
    return tuple(int(n) for n in found.groups()) if found else None


def tested() -> bool:
    """True on a Dagster version kpi's private uses were tested with;
    else warns once per process."""
    version = installed_version()
    numbers = _numbers(version)
    ok = numbers is not None and TESTED_FROM <= numbers < TESTED_BELOW
    if not ok and not _warned["done"]:
        _warned["done"] = True
        plain = warnings.formatwarning
        with warnings.catch_warnings():  # shown even where warnings are silenced (the kpi command)
            warnings.simplefilter("always", UntestedDagsterWarning)
            warnings.formatwarning = _one_line
            try:
                warnings.warn(
                    f"kpi: Dagster {version} is outside the versions kpi was tested with ({PIN}); "
                    f"kpi falls back to Dagster's own behaviour: {LOST}. Install a tested "
                    f"Dagster ('pip install \"{PIN}\"') to get them back.",
                    UntestedDagsterWarning,
                    stacklevel=2,
                )
            finally:
                warnings.formatwarning = plain
    return ok


def event_log_storage_class() -> type:
    """The class ``dagster.yaml``'s ``kpi_pipeline.event_log.EventLogStorage`` is: a plain class,
    bound when the module is imported, that builds ours on a tested Dagster, else Dagster's stock
    SQLite event log (same files, nothing migrated), each time Dagster builds an instance.

    (A module ``__getattr__`` choosing the class at lookup broke the daemon's instances:
    tests/test_nightly.py failed four times in four with it, passed with a bound class.)"""
    return _chooser_class()


@lru_cache(maxsize=1)
def _chooser_class() -> type:
    stock = _stock_sqlite_event_log()  # the class Dagster's config check accepts on any version

    class EventLogStorage(stock):  # type: ignore[misc, valid-type]
        """Never built itself: ``from_config_value`` builds the tested or the stock storage."""

        @classmethod
        def config_type(cls) -> dict[str, Any]:
            return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

        @classmethod
        def from_config_value(cls, inst_data: Any, config_value: Any) -> Any:
            if tested():
                return _batched_storage_class().from_config_value(inst_data, config_value)
            # Dagster's stock storage, built by its own config hook, in Dagster's own place for it
            base_dir = config_value.get("base_dir") or os.path.join(
                os.environ["DAGSTER_HOME"], "history", "runs"
            )
            return stock.from_config_value(inst_data, {"base_dir": base_dir})

    EventLogStorage.__module__ = "kpi_pipeline.event_log"
    return EventLogStorage


def interrupt_thread(thread: threading.Thread) -> bool:
    """Raise KeyboardInterrupt in ``thread`` (a run's worker): Dagster then ends the run as
    interrupted and lets go of its pool claims, as for Ctrl-C in its own run workers. False on an
    untested Dagster: the caller then leaves stopping to Dagster's own Ctrl-C handling."""
    if not tested():
        return False
    import ctypes  # late: only a tested Dagster's run is stopped this way

    if thread.ident is None:  # never started: nothing runs in it to stop
        return False
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
    )
    return True


CAPTURE_TAIL = "tail -F -c +0 "  # how Dagster's compute-log capture mirrors a run's stdout/stderr
CAPTURE_WATCHER = "watch_orphans.py"  # the script it starts beside each tail, to kill it if we die


def end_log_capture(run_id: str) -> int:
    """After :func:`interrupt_thread` stopped ``run_id``: end what is left of Dagster's compute-log
    capture for it, and say how many processes that was.

    Dagster mirrors a run's stdout and stderr with a ``tail -F`` child each (plus a watcher that
    kills the tail once this process dies) and ends them in a ``finally``. An interrupt that lands
    in that ``finally`` (a stop as the run ends; widest with Dagster's
    ``DAGSTER_COMPUTE_LOG_TAIL_WAIT_AFTER_FINISH``) skips the rest: the tail and its watcher
    would live as long as this process. Only this process's own children that name ``run_id``'s
    capture (and their watchers) are ended."""
    if os.name != "posix":
        return 0
    mine = [(pid, args) for pid, ppid, args in processes() if ppid == os.getpid()]
    tails = {pid for pid, args in mine if args.startswith(CAPTURE_TAIL) and run_id in args}
    watchers = {
        pid
        for pid, args in mine
        if CAPTURE_WATCHER in args and args.split()[-1].isdigit() and int(args.split()[-1]) in tails
    }
    for pid in (*tails, *watchers):
        try:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)  # both end on SIGTERM; reaped here, as Dagster would have
        except (ProcessLookupError, ChildProcessError):
            pass
    return len(tails) + len(watchers)


def free_pool_slots(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Free ``run_id``'s pool slots and queued steps now (Dagster's daemon does it 60 s after a run
    ended, and only when it runs). Done on any Dagster that has the call, since a dead run's slot
    would otherwise block every later run; False when it is missing."""
    free = getattr(instance.event_log_storage, "free_concurrency_slots_for_run", None)
    if free is None:
        return False
    free(run_id)
    return True


def sensor_cursors(instance: dg.DagsterInstance) -> dict[str, str | None]:
    """Each sensor's cursor on ``instance`` by sensor name (None before it set one): a sensor has
    ticked once it set its cursor. For tests; Dagster keeps these in its instigator states."""
    # late: a private module, for tests only (kpi itself never reads sensor states)
    from dagster._core.scheduler.instigation import InstigatorType

    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    return {s.instigator_name: getattr(s.instigator_data, "cursor", None) for s in states}


def _stock_sqlite_event_log() -> type[_FromConfig]:
    """Dagster's default SQLite event log class: where its default config names it, else the one a
    throwaway default instance uses (public calls only)."""
    module, name = STOCK_EVENT_LOG
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        with (
            tempfile.TemporaryDirectory() as folder,
            dg.DagsterInstance.local_temp(folder) as instance,
        ):
            # typed as Dagster's abstract EventLogStorage; the class an instance was built with from
            # its config is a ConfigurableClass (which _FromConfig describes)
            return type(instance.event_log_storage)  # type: ignore[return-value]


OPEN_FILES = 8  # engines kept: the index, the current run and a few runs the UI looks at


@lru_cache(maxsize=1)
def _batched_storage_class() -> type[_FromConfig]:
    """Dagster's run-sharded SQLite event log, writing the way its Postgres event log does.

    Same files, same schema, same reads as Dagster's ``SqliteEventLogStorage`` (a ``dagster.yaml``
    without our block reads the same instance), with three changes:

    - an engine per database file is kept (Dagster's creates and disposes one for every
      statement): SQLAlchemy then compiles each statement once instead of once per event, and
      SQLite opens the file once;
    - ``store_event_batch`` writes a batch of partition materializations in one transaction per
      file, as ``dagster-postgres`` does, where Dagster's SQLite storage loops over
      ``store_event``: a run over 425 days of a stream records 425 materializations in two
      commits, not 850, and a run's planned materializations (one per asset) two, not two per
      asset. Dagster hands batches to storage only when ``DAGSTER_EVENT_BATCH_SIZE``
      is set (run.py sets it);
    - its connections commit without waiting for the disk (``PRAGMA synchronous=NORMAL``, in WAL
      mode, as Dagster makes its files): a run's few hundred events and pool claims
      cost a file sync each otherwise (5-15 ms, more than a second of a nightly run). SQLite keeps
      the files consistent either way and a killed process loses nothing committed; a power cut
      may lose the last events written before it (the warehouse's loads, in DuckDB, are durable
      as before).
    """
    # late: Dagster's private modules are imported only on a tested version, where they are known to
    # exist; on another, a moved module must not break the import of this adapter
    from collections import OrderedDict
    from collections.abc import Iterator, Sequence
    from contextlib import contextmanager

    # late: as above, private modules of a tested Dagster only
    from dagster._core.events import DagsterEventType
    from dagster._core.storage.event_log import SqliteEventLogStorage
    from dagster._core.storage.sql import create_engine
    from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine

    # the asset events Dagster's SQLite store_event writes alike (run file, index, tags, the asset's
    # row); a run's planned events come as one batch when it is created
    batched = {
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_OBSERVATION,
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    }

    def _commit_without_sync(dbapi_connection: Any, _record: Any) -> None:
        # WAL, as Dagster makes its files (a file made here before Dagster's schema is too): only
        # there does a commit without a file sync keep the file consistent whatever happens
        mode = dbapi_connection.execute("pragma journal_mode").fetchone()[0]
        if mode != "wal":
            mode = dbapi_connection.execute("pragma journal_mode = wal").fetchone()[0]
        if mode == "wal":
            dbapi_connection.execute("pragma synchronous = normal")

    class EventLogStorage(SqliteEventLogStorage):
        """Run-sharded SQLite event log with kept engines and batched writes."""

        def __init__(self, base_dir: str | None = None, inst_data: Any = None) -> None:
            # Dagster's own place for it: DAGSTER_HOME/history/runs
            base_dir = base_dir or os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
            self._engines: OrderedDict[str, Engine] = OrderedDict()
            self._pid = os.getpid()
            super().__init__(base_dir, inst_data)

        @classmethod
        def config_type(cls) -> dict[str, Any]:
            return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

        @classmethod
        def from_config_value(cls, inst_data: Any, config_value: Any) -> Any:
            return cls(inst_data=inst_data, **config_value)

        def _engine(self, shard: str) -> Engine:
            if (
                self._pid != os.getpid()
            ):  # a forked child must not share its parent's SQLite handles
                self._engines.clear()
                self._pid = os.getpid()
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            event.listen(engine, "connect", _commit_without_sync)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_FILES:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

        @contextmanager
        def _connect(self, shard: str) -> Iterator[Connection]:
            with self._db_lock:
                with self._engine(shard).connect() as conn, conn.begin():
                    yield conn

        def _forget(self, shard: str) -> None:
            with self._db_lock:
                engine = self._engines.pop(shard, None)
                if engine is not None:
                    engine.dispose()

        def delete_events(self, run_id: str) -> None:
            super().delete_events(run_id)
            self._forget(run_id)

        def _forget_all(self) -> None:
            with self._db_lock:
                for engine in self._engines.values():
                    engine.dispose()
                self._engines.clear()

        def wipe(self) -> None:
            self._forget_all()
            super().wipe()

        def dispose(self) -> None:
            self._forget_all()
            super().dispose()

        def store_event_batch(self, events: Sequence[Any]) -> None:
            """One transaction on the run's file and one on the index for a batch of asset events
            (the statements Dagster's ``store_event`` runs for each); anything else one by one."""
            if not events or not all(
                e.dagster_event_type in batched
                and e.dagster_event
                and e.dagster_event.asset_key
                and e.run_id == events[0].run_id
                for e in events
            ):
                super().store_event_batch(events)
                return
            statements = [self.prepare_insert_event(event) for event in events]
            with self.run_connection(events[0].run_id) as conn:
                for statement in statements:
                    conn.execute(statement)
            with self.index_transaction() as conn:
                ids = []
                for statement in statements:
                    key = conn.execute(statement).inserted_primary_key
                    if key is None:  # typed Optional: None for statements that are not an INSERT
                        raise RuntimeError("an event's INSERT returned no primary key")
                    ids.append(key[0])
                self._store_asset_event_tags(conn, events, ids)
                for event, event_id in zip(events, ids, strict=True):
                    self._store_asset_event(conn, event, event_id)

    EventLogStorage.__module__ = "kpi_pipeline.event_log"  # where dagster.yaml names it
    return EventLogStorage

"""Dagster's SQLite event log, writing the way Dagster's Postgres event log does.

Same files, same schema, same reads as ``dagster._core.storage.event_log.SqliteEventLogStorage``
(a ``dagster.yaml`` without our block reads the same instance), with two changes measured in
``bench/`` and explained in the README's Performance section:

- an engine per database file is kept (Dagster's creates and disposes one for every statement):
  SQLAlchemy then compiles each statement once instead of once per event, and SQLite opens the
  file once;
- ``store_event_batch`` writes a batch of partition materializations in one transaction per file,
  as ``dagster-postgres`` does, where Dagster's SQLite storage loops over ``store_event``: a run
  over 425 days of a stream records 425 materializations in two commits, not 850.

Dagster hands batches to storage only when ``DAGSTER_EVENT_BATCH_SIZE`` is set (run.py sets it).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from dagster import Field, StringSource
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

BATCHED = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION}
OPEN_FILES = 8  # engines kept: the index, the current run and a few runs the UI looks at


class EventLogStorage(SqliteEventLogStorage):
    """Run-sharded SQLite event log with kept engines and batched writes (see the module)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None) -> None:
        # Dagster's own place for it: DAGSTER_HOME/history/runs
        base_dir = base_dir or os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._pid = os.getpid()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> EventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if self._pid != os.getpid():  # a forked child must not share its parent's SQLite handles
            self._engines.clear()
            self._pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
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

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """One transaction on the run's file and one on the index for a batch of asset events
        (the statements Dagster's ``store_event`` runs for each); anything else one by one."""
        if not events or not all(e.dagster_event_type in BATCHED and e.dagster_event and e.dagster_event.asset_key
                                 and e.run_id == events[0].run_id for e in events):
            super().store_event_batch(events)
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            ids = [conn.execute(statement).inserted_primary_key[0] for statement in statements]
            self._store_asset_event_tags(conn, events, ids)
            for event, event_id in zip(events, ids, strict=True):
                self._store_asset_event(conn, event, event_id)

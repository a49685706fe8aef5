"""A throwaway PostgreSQL cluster for Dagster's Postgres instance storage (tests and bench/).

Debian's postgresql-15 binaries start a cluster in a temporary folder that listens on a Unix
socket only (no TCP port to collide with), trusting its one user; it is stopped and deleted on
exit. As root, the server runs as the ``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path(os.environ.get("KPI_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> bool:
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


def instance_yaml(url: str) -> str:
    """The dagster.yaml of an instance on PostgreSQL: storage there, the rest as kpi writes it."""
    from kpi_pipeline.orchestration.run import INSTANCE_YAML

    return f'storage:\n  postgres:\n    postgres_url: "{url}"\n' + INSTANCE_YAML


@contextlib.contextmanager
def throwaway_cluster(durable: bool = True) -> Iterator[str]:
    """Start a cluster; yield its SQLAlchemy URL. ``durable=False`` turns fsync off (tests)."""
    folder = Path(
        tempfile.mkdtemp(prefix="kpi-pg-", dir="/tmp")
    )  # short: a socket path is at most 107 bytes
    run_as: list[str] = []
    try:
        folder.chmod(0o755)
        data, sock = folder / "data", folder / "sock"
        data.mkdir()
        sock.mkdir()
        if os.getuid() == 0:
            run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(data, "postgres")
            shutil.chown(sock, "postgres")
            shutil.chown(folder, "postgres")
        subprocess.run(
            [
                *run_as,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "kpi",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-k {sock} -c listen_addresses='' -c max_connections=100" + (
            "" if durable else " -c fsync=off"
        )
        subprocess.run(
            [
                *run_as,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "-t",
                "120",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        # the driver dagster-postgres installs
        yield f"postgresql+psycopg2://kpi@/postgres?host={sock}"
    finally:
        if (folder / "data" / "postmaster.pid").exists():
            subprocess.run(
                [
                    *run_as,
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(folder / "data"),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)

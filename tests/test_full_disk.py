"""A full disk said in one line: which errors count, and which disk is named."""

import errno
import sqlite3

from kpi_pipeline.orchestration.full_disk import disk_of, full_disk_message


def _wrapped(inner: BaseException) -> BaseException:
    """``inner`` deep in a chain, as Dagster and SQLAlchemy raise it."""
    try:
        try:
            raise inner
        except BaseException as err:
            raise RuntimeError(
                "(sqlite3.OperationalError) ... [SQL: INSERT INTO event_logs ...]"
            ) from err
    except RuntimeError as outer:
        return outer


def test_an_out_of_space_error_anywhere_in_the_chain_names_the_disk_and_the_fix(tmp_path):
    home, data = tmp_path / ".dagster", tmp_path / "data"
    home.mkdir()
    data.mkdir()
    for err in (
        OSError(errno.ENOSPC, "No space left on device"),
        sqlite3.OperationalError("database or disk is full"),
        Exception('IO Error: Could not write file "x": No space left on device'),
    ):
        message = full_disk_message(_wrapped(err), [data, home])
        assert message == (
            f"disk full: no space left on the disk mounted at {disk_of(tmp_path)} (it holds "
            f"{data}, {home}); free some space there, then run `kpi sync` again"
        )


def test_an_io_error_on_a_disk_with_room_or_another_error_is_not_called_a_full_disk(tmp_path):
    assert (
        full_disk_message(_wrapped(sqlite3.OperationalError("disk I/O error")), [tmp_path]) is None
    )
    assert full_disk_message(_wrapped(ValueError("something else")), [tmp_path]) is None

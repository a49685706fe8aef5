"""What the ``kpi`` commands share: a day given on the command line and the run's as-of, each
refused as bad input (:class:`~kpi_pipeline.cli.exits.BadInput`) with the option it came from."""

from __future__ import annotations

import argparse
import datetime as dt

from kpi_pipeline.cli.exits import BadInput
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.sources.windows import AS_OF_TAG, parse_date, resolve_as_of


def date_arg(value: str, what: str) -> dt.date:
    """A day given on the command line (``what``: the option, for the message), else bad input."""
    try:
        return parse_date(value, what)
    except ValueError as err:
        raise BadInput(str(err)) from None


def as_of_arg(args: argparse.Namespace, settings: Settings) -> dt.date:
    """The run's as-of: a complete day, not before history_start, else bad input."""
    try:  # --as-of, else env KPI_AS_OF, else yesterday: the same rule the assets follow
        as_of = resolve_as_of(settings, {AS_OF_TAG: args.as_of} if args.as_of else None)
    except ValueError as err:
        raise BadInput(str(err).replace("as-of:", "--as-of:", 1)) from None
    if as_of < settings.history_start:
        raise BadInput(f"--as-of: {as_of} is before history_start ({settings.history_start})")
    if as_of >= dt.datetime.now(settings.tz).date():
        raise BadInput(f"--as-of: {as_of} is not a complete day yet in {settings.timezone}")
    return as_of

"""`kpi check --online`: one cheap request per source (the first page of one stream for one day),
to prove the credentials work before the nightly run needs them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from connectors.errors import ConnectorError
from connectors.registry import connect, probe, streams
from connectors.streams import Window
from kpi_pipeline.config.settings import ConfigError, Settings
from kpi_pipeline.sources.windows import source_settings, stream_context


def probe_sources(
    settings: Settings, as_of: dt.date, say: Callable[[str], None]
) -> dict[str, Exception]:
    """Try each enabled source once; say one line per source; return the failures by source."""
    ctx = stream_context(settings, as_of)
    failed: dict[str, Exception] = {}
    for source in settings.enabled_sources():
        spec = streams(source)[probe(source)]
        started = time.monotonic()
        try:
            client = connect(source, source_settings(settings, source, as_of))
            page = next(iter(spec.fetch(client, Window(as_of, as_of), ctx)), None)
        except (ConnectorError, ConfigError) as err:
            failed[source] = err
            say(f"  x {source}: {err}")
            continue
        rows = len(page.records) if page is not None else 0
        say(
            f"  ok {source}: {spec.name} answered ({rows} record{'s' if rows != 1 else ''} for "
            f"{as_of}, {time.monotonic() - started:.1f}s)"
        )
    return failed

"""Which platform modules exist: source name -> (connect function, stream specs)."""

from __future__ import annotations

from typing import Any, Callable

from connectors import calendly, ga4, google_ads, hubspot, instagram, mailchimp, manual, meta_ads, stripe
from connectors.streams import StreamSpec

SOURCES: dict[str, tuple[Callable[[dict[str, Any]], Any], dict[str, StreamSpec]]] = {
    module.PLATFORM: (module.connect, module.STREAMS)
    for module in (mailchimp, ga4, meta_ads, google_ads, instagram, stripe, calendly, hubspot, manual)
}


PROBES: dict[str, str] = {module.PLATFORM: module.PROBE for module in (
    mailchimp, ga4, meta_ads, google_ads, instagram, stripe, calendly, hubspot, manual)}


def streams(source: str) -> dict[str, StreamSpec]:
    """The stream specs of a source; an unknown source lists the known ones."""
    try:
        return SOURCES[source][1]
    except KeyError:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(sorted(SOURCES))}") from None

"""The ``sources:`` block of kpi.yaml, assembled from the platforms the registry finds: each
platform package declares its settings model and which of its fields are credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import create_model

from connectors.registry import platforms
from connectors.settings import SourceBase, Strict

SOURCE_MODELS: dict[str, type[SourceBase]] = {name: p.settings for name, p in platforms().items()}
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    name: p.credentials for name, p in platforms().items() if p.credentials
}

if TYPE_CHECKING:

    class Sources(Strict):
        """One optional block per platform (its fields are the platforms found)."""
else:
    _fields: dict[str, Any] = {name: (model | None, None) for name, model in SOURCE_MODELS.items()}
    Sources = create_model(
        "Sources", __base__=Strict, __doc__="One optional block per platform.", **_fields
    )

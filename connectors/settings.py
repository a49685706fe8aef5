"""What every platform's settings model (its block under ``sources:`` in kpi.yaml) builds on.

Each platform package declares its own model (``SETTINGS``) from :class:`SourceBase`;
``kpi_pipeline.config.sources`` assembles the ``sources:`` block from the registry.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    # .nan and .inf are YAML floats; no setting means either
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SourceBase(Strict):
    """Settings every source takes."""

    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    lookback_days: int | None = Field(default=None, ge=1, le=400)
    timeout: float = Field(default=30.0, gt=0, le=600)

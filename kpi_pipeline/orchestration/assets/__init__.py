"""The Dagster assets. The beta features they rely on, knowingly, are listed here, once.

- ``backfill_policy``: a backfill of a year of days runs as one run, not 365;
- code references (``LocalFileCodeReference``, ``with_source_code_references``): the UI links
  each asset to its SQL file, connector or function.

Dagster warns at every load that these may change; we pin Dagster's minor version instead.
"""

import warnings

import dagster as dg

for _beta in (
    r"`backfill_policy`",
    r"`CodeReferencesMetadataValue`",
    r"`LocalFileCodeReference`",
    r"`with_source_code_references`",
):
    warnings.filterwarnings("ignore", message=f".*{_beta}.*", category=dg.BetaWarning)

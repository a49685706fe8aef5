"""A coach's businesses: one folder each, one Dagster code location each, one view over all.

``businesses`` (finding them, their workspace), ``copy`` (the portfolio's analysts' copy), ``defs``
(the portfolio's own assets), ``demo`` (the sandbox businesses of ``kpi demo --businesses``).
"""

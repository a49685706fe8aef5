"""What the pipeline asks of the platforms, apart from Dagster.

``windows`` (as-of, each platform's today, the days a stream re-fetches), ``probe`` and ``names``
(``kpi check --online``: the credentials and the names kpi.yaml takes from an account).
"""

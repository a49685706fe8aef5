"""kpi.yaml -> validated settings (pydantic; every error names its YAML path).

``settings``: the business and its KPIs; ``sources``: the ``sources:`` block assembled from the
connectors' declarations; ``targets``: targets per grain and their checks.
"""

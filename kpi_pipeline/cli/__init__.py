"""The ``kpi`` command (``python -m kpi_pipeline.cli``).

``main`` (arguments, dispatch, exit codes), ``sync``, ``report``, ``check``, ``portfolio`` (the
same commands over a portfolio), ``args`` (values shared by the commands), ``exits``.
"""

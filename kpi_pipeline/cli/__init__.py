"""The ``kpi`` command (``python -m kpi_pipeline.cli``).

``main`` parses the arguments and calls the commands, by concern: ``sync`` runs (``sync``,
``demo``), ``report`` reads the published copy (``report``, ``review``), ``check`` checks the
setup (``check``, ``catalog``, ``doctor``, ``init-instance``); ``portfolio`` runs them over a
portfolio's businesses. Each takes the parsed arguments and the business's settings and returns
the exit code (``exits``); bad input raises :class:`~kpi_pipeline.cli.exits.BadInput`; ``args``
holds what they share.

Late imports inside the commands are measured start-up costs of every ``kpi`` command, ``kpi
--help`` included (python -X importtime, on top of the command line's own ~0.7 s): Dagster ~1.2 s
(orchestration: run, doctor, full_disk, instance_setup); pandas with Babel, Jinja and rich ~0.3 s
(reporting); every connector's SDK ~0.6 s (sources.probe, sources.names, kpi.lineage).
"""

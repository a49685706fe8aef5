"""``python -m kpi_pipeline.cli``: the ``kpi`` command."""

from kpi_pipeline.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

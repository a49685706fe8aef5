"""kpi-pipeline: a business's KPIs from its platforms' APIs, scored against its targets."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed


def version() -> str:
    """The installed kpi-pipeline version (shown by ``kpi --version`` and in reports)."""
    try:
        return _installed("kpi-pipeline")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"

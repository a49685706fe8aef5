"""The shipped catalog enables exactly the public KPIs, from exactly their sources.

The public KPIs: docs/ARCHITECTURE.md#the-public-kpi-catalog.

The table is tests/expected_kpis.py, written by hand from the same table; the end-to-end tests
score against it too. This file is the quick check: a KPI dropped from catalog.yml, one given
the wrong sources or a per-dimension KPI given a total fails here in a second.
"""

import pytest

from connectors.registry import platforms
from kpi_pipeline.kpi.catalog import builtin_kpis
from tests import expected_kpis

SOURCES = [
    name for name in platforms() if name != "manual"
]  # the CSV feeds kpi.yaml's KPIs, not the catalog


def _shipped_enabled(sources):
    """What the shipped catalog computes for ``sources`` (the code under test, read as data)."""
    out = set()
    for kpi in builtin_kpis():
        needed = set(kpi.sources)
        if (needed & set(sources)) if kpi.any_source else needed <= set(sources):
            out.add(kpi.id)
    return out


def test_the_catalog_has_every_public_id_and_no_other():
    assert {k.id for k in builtin_kpis()} == expected_kpis.BUILTIN
    assert len(expected_kpis.BUILTIN) == 33  # the public catalog's 33 ids


def test_the_per_dimension_kpis_are_the_ones_without_a_total():
    assert {k.id for k in builtin_kpis() if not k.total} == expected_kpis.NO_TOTAL


@pytest.mark.parametrize(
    "sources",
    [[s] for s in SOURCES]
    + [["hubspot", "stripe"], ["calendly", "stripe"], ["meta_ads", "google_ads"], SOURCES],
    ids="+".join,
)
def test_each_setup_enables_the_kpis_of_its_sources(sources):
    assert _shipped_enabled(sources) == expected_kpis.enabled(sources)

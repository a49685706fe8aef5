"""The per-platform fault cases beyond the matrix (tests/test_faults.py): paging that ends before
the data does or repeats a cursor, schema drift (a new field, a missing key field, a changed type),
a well-formed empty answer and a field renamed in every record. Each stream starts from an older
load (its rows marked "before") and ends retried and correct or failed with the table as before.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connectors.errors import FatalError
from connectors.registry import SOURCES
from tests.connector_runs import content
from tests.fault_loads import TARGETS, before_state, clean_load, load

# ------------------------------------------------------------------ paging and schema drift


def _refused(sandbox, policy, source: str, match: str, **fault) -> FatalError:
    """Load the stream with ``fault`` injected on its data requests over an older load: the load
    fails with an error starting ``<source>/<stream>: `` then ``match``, the table as before."""
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, policy)
    sandbox.servers[source].inject(target.path, **fault)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: {match}") as info:
        load(sandbox, target, policy, wh)
    assert content(wh, SOURCES[source][1][target.stream]) == before
    return info.value


PAGED = [s for s, t in TARGETS.items() if t.empty_page]  # the platforms whose paging can tell


@pytest.mark.parametrize("source", PAGED)
def test_an_empty_page_in_the_middle_of_paging_fails_and_stores_nothing(
    sandbox, fast_policy, source
):
    _refused(
        sandbox,
        fast_policy,
        source,
        r"the API returned .*paging ended before the data did.*-> .*run the sync "
        "again",
        **TARGETS[source].empty_page,
    )


def _replaying(sandbox, source):
    """A server that answers every page with the first page, its cursor pointing onwards."""
    first: dict[str, Any] = {}

    def transform(body, req):
        if "body" not in first:
            TARGETS[source].onwards(body, req, sandbox.urls[source])
            first["body"] = body
        return copy.deepcopy(first["body"])

    return transform


CURSORED = [s for s, t in TARGETS.items() if t.onwards]  # the platforms paging by a cursor


@pytest.mark.parametrize("source", CURSORED)
def test_a_repeating_cursor_fails_naming_the_platform_and_stores_nothing(
    sandbox, fast_policy, source
):
    _refused(
        sandbox,
        fast_policy,
        source,
        "the API returned a page position it already returned",
        transform=_replaying(sandbox, source),
        times=50,
    )


DRIFTING = [s for s, t in TARGETS.items() if t.records is not None]


def _each_record(target, change):
    def transform(body, req):
        if body is None:
            return None
        for record in target.records(body):
            change(record)
        return body

    return transform


@pytest.mark.parametrize("source", DRIFTING)
def test_a_new_field_is_kept_in_the_record(sandbox, fast_policy, source):
    target = TARGETS[source]
    expected = clean_load(
        sandbox, target, fast_policy
    )  # before the fault: it may be the first to load it
    wh, _ = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(
        target.path,
        transform=_each_record(target, lambda r: r.__setitem__("zz_new_field", "kept")),
        times=50,
    )
    load(sandbox, target, fast_policy, wh)
    typed = [row[:-1] for row in content(wh, spec)]
    assert typed == [row[:-1] for row in expected]  # typed columns unchanged
    kept = wh.query(
        f"select count(*) from raw.{spec.table} where _record->>'zz_new_field' = 'kept'"
    )[0][0]
    fresh = wh.query(f"select count(*) from raw.{spec.table} where _record->>'before' is null")[0][
        0
    ]
    assert kept == fresh > 0


@pytest.mark.parametrize("source", DRIFTING)
def test_a_missing_key_field_fails_naming_stream_and_field(sandbox, fast_policy, source):
    target = TARGETS[source]
    _refused(
        sandbox,
        fast_policy,
        source,
        rf"a record without its \w+ \(field {target.key_field}\)",
        transform=_each_record(target, lambda r: r.pop(target.key_field, None)),
        times=50,
    )


@pytest.mark.parametrize("source", [s for s in DRIFTING if TARGETS[s].typed_field])
def test_a_changed_type_fails_naming_stream_and_column(sandbox, fast_policy, source):
    target = TARGETS[source]
    _refused(
        sandbox,
        fast_policy,
        source,
        r"malformed record: column \w+",
        transform=_each_record(target, lambda r: r.__setitem__(target.typed_field, "twelve")),
        times=50,
    )


# ----------------------------------------------------------------- empty answers and renamed fields


def _well_formed_empty(source: str):
    """The platform's own answer for a window without data (docs/PLATFORMS.md#empty-answers)."""
    return TARGETS[source].empty


EMPTYABLE = [
    s for s, t in TARGETS.items() if t.empty
]  # a platform without an empty answer declares none


@pytest.mark.parametrize("source", EMPTYABLE)
def test_a_well_formed_empty_answer_empties_the_window(sandbox, fast_policy, source):
    """A real empty window (no sales, no meetings, no delivery)
    still replaces what the window held."""
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_well_formed_empty(source), times=500)
    _, result = load(sandbox, target, fast_policy, wh)
    assert result.rows == 0 and result.window is not None
    inside = wh.query(
        f"select count(*) from raw.{spec.table} where {spec.date_column} between ? and ?",
        [result.window.start, result.window.end],
    )[0][0]
    if spec.kind == "changes":  # nothing changed: every record keeps its last state
        assert content(wh, spec) == before
    else:
        assert inside == 0 and len(before) > 0


RENAMED = [s for s, t in TARGETS.items() if t.renamed]  # a field every record must have, renamed


def test_every_emulated_platform_declares_a_field_to_rename():
    assert RENAMED == list(TARGETS), (
        "declare renamed= in the platform's FAULT_TARGETS (connectors/sandbox/faults.py)"
    )


@pytest.mark.parametrize("source", RENAMED)
def test_a_field_missing_from_every_record_fails_naming_stream_and_field(
    sandbox, fast_policy, source
):
    """A renamed metric (Meta `spend` -> `amount_spent`) is refused at load, not loaded as NULLs."""
    transform, field = TARGETS[source].renamed
    error = _refused(sandbox, fast_policy, source, f".*{field}", transform=transform, times=500)
    assert "nothing was loaded" in str(error) or "malformed record" in str(error)


def test_a_metric_missing_from_some_records_only_loads(sandbox, fast_policy):
    """Only a field absent from every record is a renamed field; one record without it is loaded."""
    target = TARGETS["meta_ads"]
    wh, _ = before_state(sandbox, target, fast_policy)
    spec = SOURCES["meta_ads"][1][target.stream]
    first = {}

    def drop_once(body, req):
        if not first and body.get("data"):
            first["id"] = body["data"][0].pop("spend") and body["data"][0]["campaign_id"]
        return body

    sandbox.servers["meta_ads"].inject(target.path, transform=drop_once, times=500)
    load(sandbox, target, fast_policy, wh)
    nulls = wh.query(f"select count(*) from raw.{spec.table} where spend is null")[0][0]
    assert (
        nulls == 1
        and wh.query(f"select count(*) from raw.{spec.table} where spend is not null")[0][0] > 1
    )

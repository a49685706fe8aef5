"""The per-platform fault cases beyond the matrix (tests/test_faults.py): paging that ends before the
data does or repeats a cursor, schema drift (a new field, a missing key field, a changed type), a
well-formed empty answer and a field renamed in every record. Each stream starts from an older
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


def _empty_page(body: Any, req) -> Any:
    """The page's records gone, while the body still says there are more (total, has_more)."""
    if body is None:
        return None
    if "members" in body:
        body["members"] = []
    elif "rowCount" in body:
        body.pop("rows", None)
    elif "data" in body:
        body["data"], body["has_more"] = [], True
    elif "results" in body:
        body["results"] = []
        body.pop("paging", None)
    return body


PAGED = {  # which page comes back empty
    "mailchimp": dict(query={"offset": "1000"}),  # the second of three pages of members
    "stripe": dict(),  # the first, saying more follow
    "ga4": dict(),  # the first, counting rows it does not hold
    "hubspot": dict(),  # the first, while the total counts more
}


@pytest.mark.parametrize("source", sorted(PAGED))
def test_an_empty_page_in_the_middle_of_paging_fails_and_stores_nothing(sandbox, fast_policy, source):
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_empty_page, **PAGED[source])
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: the API returned .*paging ended before the "
                                         r"data did.*-> .*run the sync again"):
        load(sandbox, target, fast_policy, wh)
    assert content(wh, spec) == before


def _replaying(sandbox, source):
    """A server that answers every page with the first page, whose cursor points onwards."""
    first: dict[str, Any] = {}

    def transform(body, req):
        if "body" not in first:
            if source == "stripe":
                body["has_more"] = True
            elif source == "calendly":
                body.setdefault("pagination", {})["next_page_token"] = "tok-1"
            elif source == "hubspot":
                body["paging"] = {"next": {"after": "200"}}
            elif source == "meta_ads":
                body["paging"] = {"next": f"{sandbox.urls['meta_ads']}{req.path}?after=tok-1"}
            first["body"] = body
        return copy.deepcopy(first["body"])
    return transform


@pytest.mark.parametrize("source", ["stripe", "calendly", "hubspot", "meta_ads"])
def test_a_repeating_cursor_fails_naming_the_platform_and_stores_nothing(sandbox, fast_policy, source):
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_replaying(sandbox, source), times=50)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: the API returned a page position it already "
                                         "returned"):
        load(sandbox, target, fast_policy, wh)
    assert content(wh, spec) == before


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
    expected = clean_load(sandbox, target, fast_policy)  # before the fault: it may be the first to load it
    wh, _ = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_each_record(
        target, lambda r: r.__setitem__("zz_new_field", "kept")), times=50)
    load(sandbox, target, fast_policy, wh)
    typed = [row[:-1] for row in content(wh, spec)]
    assert typed == [row[:-1] for row in expected]  # typed columns unchanged
    kept = wh.query(f"select count(*) from raw.{spec.table} where _record->>'zz_new_field' = 'kept'")[0][0]
    fresh = wh.query(f"select count(*) from raw.{spec.table} where _record->>'before' is null")[0][0]
    assert kept == fresh > 0


@pytest.mark.parametrize("source", DRIFTING)
def test_a_missing_key_field_fails_naming_stream_and_field(sandbox, fast_policy, source):
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_each_record(
        target, lambda r: r.pop(target.key_field, None)), times=50)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: a record without its \w+ \(field "
                                         rf"{target.key_field}\)"):
        load(sandbox, target, fast_policy, wh)
    assert content(wh, spec) == before


@pytest.mark.parametrize("source", [s for s in DRIFTING if TARGETS[s].typed_field])
def test_a_changed_type_fails_naming_stream_and_column(sandbox, fast_policy, source):
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_each_record(
        target, lambda r: r.__setitem__(target.typed_field, "twelve")), times=50)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: malformed record: column \w+"):
        load(sandbox, target, fast_policy, wh)
    assert content(wh, spec) == before


# ------------------------------------------------------------------ empty answers and renamed fields


def _well_formed_empty(source: str):
    """The platform's own answer for a window without data (docs/PLATFORMS.md#empty-answers)."""
    return TARGETS[source].empty


EMPTYABLE = [s for s, t in TARGETS.items() if t.empty]  # a platform without an empty answer declares none


@pytest.mark.parametrize("source", EMPTYABLE)
def test_a_well_formed_empty_answer_empties_the_window(sandbox, fast_policy, source):
    """A real empty window (no sales, no meetings, no delivery) still replaces what the window held."""
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_well_formed_empty(source), times=500)
    _, result = load(sandbox, target, fast_policy, wh)
    assert result.rows == 0 and result.window is not None
    inside = wh.query(f"select count(*) from raw.{spec.table} where {spec.date_column} between ? and ?",
                      [result.window.start, result.window.end])[0][0]
    if spec.kind == "changes":  # nothing changed: every record keeps its last state
        assert content(wh, spec) == before
    else:
        assert inside == 0 and len(before) > 0


def _rename(target_records, old: str, new: str):
    def transform(body, req):
        for record in target_records(body):
            if old in record:
                record[new] = record.pop(old)
        return body
    return transform


def _ga4_rename(old: str, new: str):
    def transform(body, req):
        for header in body.get("metricHeaders", []):
            if header["name"] == old:
                header["name"] = new
        return body
    return transform


def _instagram_rename(old: str, new: str):
    def transform(body, req):
        for item in body.get("data", []):
            if item.get("name") == old:
                item["name"] = new
        return body
    return transform


def _google_ads_rename(old: str, new: str):
    def transform(body, req):
        for batch in body:
            for row in batch.get("results", []):
                if old in row.get("metrics", {}):
                    row["metrics"][new] = row["metrics"].pop(old)
        return body
    return transform


# source -> (transform renaming a field the stream must have in every record, the field the error names)
RENAMED = {
    "meta_ads": (_rename(TARGETS["meta_ads"].records, "spend", "amount_spent"), "spend"),
    "stripe": (_rename(TARGETS["stripe"].records, "amount", "amount_captured_total"), "amount"),
    "mailchimp": (_rename(TARGETS["mailchimp"].records, "status", "member_status"), "status"),
    "calendly": (_rename(TARGETS["calendly"].records, "status", "event_status"), "status"),
    "hubspot": (_rename(lambda b: [r["properties"] for r in b["results"]], "createdate", "created_at"),
                "createdate"),
    "ga4": (_ga4_rename("sessions", "visits"), "sessions"),
    "instagram": (_instagram_rename("reach", "accounts_reached"), "reach"),
    "google_ads": (_google_ads_rename("impressions", "impressionCount"), "metrics.impressions"),
}


@pytest.mark.parametrize("source", sorted(RENAMED))
def test_a_field_missing_from_every_record_fails_naming_stream_and_field(sandbox, fast_policy, source):
    """A renamed metric (Meta `spend` -> `amount_spent`) is refused at load, not loaded as NULLs."""
    target = TARGETS[source]
    wh, before = before_state(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    transform, field = RENAMED[source]
    sandbox.servers[source].inject(target.path, transform=transform, times=500)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: .*{field}") as info:
        load(sandbox, target, fast_policy, wh)
    assert "nothing was loaded" in str(info.value) or "malformed record" in str(info.value)
    assert content(wh, spec) == before


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
    assert nulls == 1 and wh.query(f"select count(*) from raw.{spec.table} where spend is not null")[0][0] > 1

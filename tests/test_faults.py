"""The fault matrix: every connector against every way its API fails, through the sandbox.

Each case loads one stream of one connector into a warehouse that already holds an older
load (its rows marked "before"), with the fault injected on the stream's data requests.
It ends one of two ways, never a third:

- retried and correct: the table equals what a load without the fault gives;
- failed with a message naming the platform and what to do: the table is exactly as before.

No credential appears in any message or log line, whatever the server echoes.
"""

from __future__ import annotations

import copy
import email.utils
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from connectors.errors import AuthenticationError, ConnectorError, FatalError, RetriableError
from connectors.registry import SOURCES
from connectors.sandbox import CREDENTIALS, emulator_modules
from kpi_pipeline.config.sources import CREDENTIAL_FIELDS
from tests.connector_runs import SETTINGS, content, make_client
from kpi_pipeline.warehouse.loading import load_stream
from kpi_pipeline.sources.windows import stream_context
from kpi_pipeline.warehouse.database import Warehouse
from tests.conftest import AS_OF


@dataclass(frozen=True)
class Target:
    """The stream of a connector the matrix loads, and where its data requests and records are."""

    source: str
    stream: str
    path: str  # regex of the data requests (not token or list lookups)
    records: Callable[[Any], list[dict]] | None = None  # the records in a response body, for schema drift
    typed_field: str = ""  # a numeric field of a record, for a changed type
    key_field: str = ""  # the field of the record's key, for a missing field
    expired: dict[str, Any] | None = None  # how the platform says a credential expired (default: a 401)
    empty: Callable[[Any, Any], Any] | None = None  # (body, request) -> its answer for a window without data


# every platform with an emulator, as its emulator declares it (FAULT_TARGETS)
TARGETS = {source: Target(source, **spec) for module in emulator_modules().values()
           for source, spec in module.FAULT_TARGETS.items()}


def test_every_emulated_platform_is_in_the_fault_matrix():
    assert set(TARGETS) == set(CREDENTIALS), "declare FAULT_TARGETS in the platform's emulator.py"


def _http_date(seconds: int) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


# name -> (fault kwargs, or a function of the target giving them; expected outcome)
RETRIED, FAILS_AUTH, FAILS, MALFORMED = "retried", "auth", "fails", "malformed"
FAULTS: dict[str, tuple[Any, str]] = {
    "429 Retry-After seconds": (dict(status=429, headers={"Retry-After": "7"}), RETRIED),
    "429 Retry-After date": (lambda t: dict(status=429, headers={"Retry-After": _http_date(30)}), RETRIED),
    "429 without Retry-After": (lambda t: dict(status=429, headers={"Stripe-Should-Retry": "true"}
                                               if t.source == "stripe" else {}), RETRIED),
    "500": (dict(status=500), RETRIED),
    "502": (dict(status=502), RETRIED),
    "503": (dict(status=503), RETRIED),
    "connection reset": (dict(reset=True), RETRIED),
    "read timeout": (dict(hang=True), RETRIED),
    "truncated JSON": (dict(malformed=True), RETRIED),
    "HTML page with 200": (dict(html=True), RETRIED),
    "truncated JSON, persistent": (dict(malformed=True, times=50), FAILS),
    "token expired or revoked": (lambda t: {**dict(status=401, times=50), **(t.expired or {})}, FAILS_AUTH),
    "server echoes the credential": (dict(echo=True, status=401, times=50), FAILS_AUTH),
    # 200 with `{}` (Stripe, Calendly, HubSpot, Meta do this in outages): no data, not an empty window
    "empty object with 200": (dict(status=200, body={}, times=50), MALFORMED),
}


def _load(sandbox, target: Target, policy, wh: Warehouse):
    spec = SOURCES[target.source][1][target.stream]
    ctx = stream_context(SETTINGS, AS_OF)
    ctx.snapshot_date = AS_OF
    client = make_client(sandbox, target.source, policy)
    return spec, load_stream(spec, client, spec.lookback_window(AS_OF), ctx, wh)


_BEFORE: dict[str, Any] = {}


def _before(sandbox, target, policy) -> tuple[Warehouse, list]:
    """A warehouse holding an older load of the stream: every row marked, so a change shows.
    (Loaded once per connector, then copied: a first load of every HubSpot contact takes a while.)"""
    spec = SOURCES[target.source][1][target.stream]
    if target.source not in _BEFORE:
        assert not sandbox.servers[target.source].faults, "load the clean 'before' state before injecting a fault"
        wh = Warehouse(":memory:", "contract")
        _load(sandbox, target, policy, wh)
        with wh.writer() as con:
            con.execute(f"update raw.{spec.table} set _record = json_object('before', true)")
            _BEFORE[target.source] = con.sql(f"select * from raw.{spec.table}").to_arrow_table()
    wh = Warehouse(":memory:", "contract")
    with wh.writer() as con:
        wh.ensure_raw_table(con, spec.table, [(c.name, c.type) for c in spec.columns], spec.key)
        frozen = _BEFORE[target.source]  # noqa: F841 - DuckDB reads the Arrow table by its name
        con.execute(f"insert into raw.{spec.table} by name select * from frozen")
    return wh, content(wh, spec)


_EXPECTED: dict[str, list] = {}


def _expected(sandbox, target, policy) -> list:
    """What a load without a fault makes of the 'before' warehouse."""
    if target.source not in _EXPECTED:
        assert not sandbox.servers[target.source].faults, "compute the clean expectation before injecting a fault"
        wh, _ = _before(sandbox, target, policy)
        spec, _ = _load(sandbox, target, policy, wh)
        _EXPECTED[target.source] = content(wh, spec)
    return _EXPECTED[target.source]


def _secrets(sandbox, source: str) -> set[str]:
    """Every credential the client holds or minted: the configured ones and each Authorization,
    developer-token, access_token, client_id or assertion it sent."""
    out = {CREDENTIALS[source].get(name, "") for name in CREDENTIAL_FIELDS[source]}
    for req in sandbox.servers[source].requests:
        for name in ("authorization", "developer-token"):
            value = req.headers.get(name, "")
            out.add(value.split(" ", 1)[-1])
        out.add(req.query.get("access_token", ""))
        body = req.body.decode(errors="replace")
        for part in body.split("&"):
            name, _, value = part.partition("=")
            if name in ("client_id", "client_secret", "refresh_token", "assertion"):
                out.add(value)
    for emulator in (sandbox.ga4, sandbox.google_ads):
        out |= set(emulator.tokens)
    return {s for s in out if len(s) >= 8}


CASES = [(source, fault) for source in TARGETS for fault in FAULTS]


@pytest.mark.parametrize("source,fault", CASES, ids=[f"{s}:{f}" for s, f in CASES])
def test_fault(sandbox, fast_policy, caplog, source, fault):
    target = TARGETS[source]
    expected = _expected(sandbox, target, fast_policy)
    wh, before = _before(sandbox, target, fast_policy)
    kwargs, outcome = FAULTS[fault]
    kwargs = dict(kwargs(target) if callable(kwargs) else kwargs)
    path = kwargs.pop("path", target.path)
    server = sandbox.servers[source]
    server.requests.clear()
    server.inject(path, **kwargs)
    fast_policy.waits.clear()
    caplog.set_level(logging.DEBUG)
    spec = SOURCES[source][1][target.stream]
    if outcome == RETRIED:
        _load(sandbox, target, fast_policy, wh)
        assert content(wh, spec) == expected
        assert len(fast_policy.waits) >= 1
        if fault == "429 Retry-After seconds":
            assert fast_policy.waits[0] == 7.0
        if fault == "429 Retry-After date":
            assert 20 <= fast_policy.waits[0] <= 31
    else:
        with pytest.raises(ConnectorError) as info:
            _load(sandbox, target, fast_policy, wh)
        error = info.value
        assert error.platform == source and str(error).startswith(f"{source}/")
        assert "->" in str(error)  # says what to do
        if outcome == FAILS_AUTH:
            assert isinstance(error, AuthenticationError) and f"sources.{source}" in str(error)
            assert fast_policy.waits == []  # a refused credential is not retried
        elif outcome == MALFORMED:
            assert isinstance(error, FatalError) and error.stream == target.stream
            assert "malformed answer" in str(error) and "stored rows are kept" in str(error)
            assert fast_policy.waits == []  # the same answer again would say no more
        else:
            assert isinstance(error, RetriableError) and "gave up after" in str(error)
        assert content(wh, spec) == before
    said = "\n".join([str(getattr(info, "value", "")) if outcome != RETRIED else "", caplog.text])
    leaked = [s for s in _secrets(sandbox, source) if s in said]
    assert not leaked, f"credential in messages: {leaked[0][:6]}..."


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
    wh, before = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_empty_page, **PAGED[source])
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: the API returned .*paging ended before the "
                                         r"data did.*-> .*run the sync again"):
        _load(sandbox, target, fast_policy, wh)
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
    wh, before = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_replaying(sandbox, source), times=50)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: the API returned a page position it already "
                                         "returned"):
        _load(sandbox, target, fast_policy, wh)
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
    expected = _expected(sandbox, target, fast_policy)  # before the fault: it may be the first to load it
    wh, _ = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_each_record(
        target, lambda r: r.__setitem__("zz_new_field", "kept")), times=50)
    _load(sandbox, target, fast_policy, wh)
    typed = [row[:-1] for row in content(wh, spec)]
    assert typed == [row[:-1] for row in expected]  # typed columns unchanged
    kept = wh.query(f"select count(*) from raw.{spec.table} where _record->>'zz_new_field' = 'kept'")[0][0]
    fresh = wh.query(f"select count(*) from raw.{spec.table} where _record->>'before' is null")[0][0]
    assert kept == fresh > 0


@pytest.mark.parametrize("source", DRIFTING)
def test_a_missing_key_field_fails_naming_stream_and_field(sandbox, fast_policy, source):
    target = TARGETS[source]
    wh, before = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_each_record(
        target, lambda r: r.pop(target.key_field, None)), times=50)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: a record without its \w+ \(field "
                                         rf"{target.key_field}\)"):
        _load(sandbox, target, fast_policy, wh)
    assert content(wh, spec) == before


@pytest.mark.parametrize("source", [s for s in DRIFTING if TARGETS[s].typed_field])
def test_a_changed_type_fails_naming_stream_and_column(sandbox, fast_policy, source):
    target = TARGETS[source]
    wh, before = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_each_record(
        target, lambda r: r.__setitem__(target.typed_field, "twelve")), times=50)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: malformed record: column \w+"):
        _load(sandbox, target, fast_policy, wh)
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
    wh, before = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_well_formed_empty(source), times=500)
    _, result = _load(sandbox, target, fast_policy, wh)
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
    wh, before = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    transform, field = RENAMED[source]
    sandbox.servers[source].inject(target.path, transform=transform, times=500)
    with pytest.raises(FatalError, match=rf"^{source}/{target.stream}: .*{field}") as info:
        _load(sandbox, target, fast_policy, wh)
    assert "nothing was loaded" in str(info.value) or "malformed record" in str(info.value)
    assert content(wh, spec) == before


def test_a_metric_missing_from_some_records_only_loads(sandbox, fast_policy):
    """Only a field absent from every record is a renamed field; one record without it is loaded."""
    target = TARGETS["meta_ads"]
    wh, _ = _before(sandbox, target, fast_policy)
    spec = SOURCES["meta_ads"][1][target.stream]
    first = {}

    def drop_once(body, req):
        if not first and body.get("data"):
            first["id"] = body["data"][0].pop("spend") and body["data"][0]["campaign_id"]
        return body
    sandbox.servers["meta_ads"].inject(target.path, transform=drop_once, times=500)
    _load(sandbox, target, fast_policy, wh)
    nulls = wh.query(f"select count(*) from raw.{spec.table} where spend is null")[0][0]
    assert nulls == 1 and wh.query(f"select count(*) from raw.{spec.table} where spend is not null")[0][0] > 1

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
from connectors.sandbox import CREDENTIALS
from kpi_pipeline.config_sources import CREDENTIAL_FIELDS
from tests.test_contract import SETTINGS, content, make_client
from kpi_pipeline.loading import load_stream
from kpi_pipeline.runtime import stream_context
from kpi_pipeline.warehouse import Warehouse
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


TARGETS = {
    "mailchimp": Target("mailchimp", "members", r"/lists/[^/]+/members", lambda b: b["members"], "last_changed", "id"),
    "ga4": Target("ga4", "traffic_daily", r":runReport"),
    "meta_ads": Target("meta_ads", "campaign_insights", r"/insights", lambda b: b["data"], "clicks", "campaign_id"),
    "instagram": Target("instagram", "daily_totals", r"/insights"),
    "google_ads": Target("google_ads", "campaign_daily", r"googleAds:searchStream"),
    "stripe": Target("stripe", "charges", r"/v1/charges", lambda b: b["data"], "amount", "id"),
    "calendly": Target("calendly", "scheduled_events", r"/scheduled_events$", lambda b: b["collection"], "", "uri"),
    "hubspot": Target("hubspot", "contacts", r"/objects/contacts/search", lambda b: b["results"], "", "id"),
}
EXPIRED = {  # how each platform says the credential expired or was revoked (apis.md)
    "meta_ads": dict(status=400, body={"error": {"message": "Error validating access token: Session has expired",
                                                 "type": "OAuthException", "code": 190, "error_subcode": 463}}),
    "instagram": dict(status=400, body={"error": {"message": "Error validating access token: The user has not "
                                                  "authorized application", "type": "OAuthException", "code": 190,
                                                  "error_subcode": 458}}),
    "google_ads": dict(status=400, body={"error": "invalid_grant", "error_description": "Token has been expired or "
                                                                                          "revoked."}, path=r"/token"),
}


def _http_date(seconds: int) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


# name -> (fault kwargs, or a function of the target giving them; expected outcome)
RETRIED, FAILS_AUTH, FAILS = "retried", "auth", "fails"
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
    "token expired or revoked": (lambda t: {**dict(status=401, times=50), **EXPIRED.get(t.source, {})}, FAILS_AUTH),
    "server echoes the credential": (dict(echo=True, status=401, times=50), FAILS_AUTH),
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
    wh, _ = _before(sandbox, target, fast_policy)
    spec = SOURCES[source][1][target.stream]
    sandbox.servers[source].inject(target.path, transform=_each_record(
        target, lambda r: r.__setitem__("zz_new_field", "kept")), times=50)
    _load(sandbox, target, fast_policy, wh)
    typed = [row[:-1] for row in content(wh, spec)]
    assert typed == [row[:-1] for row in _expected(sandbox, target, fast_policy)]  # typed columns unchanged
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

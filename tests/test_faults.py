"""The fault matrix: every connector against every way its API fails, through the sandbox.

Each case loads one stream of one connector into a warehouse that already holds an older
load (its rows marked "before"), with the fault injected on the stream's data requests.
It ends one of two ways, never a third:

- retried and correct: the table equals what a load without the fault gives;
- failed with a message naming the platform and what to do: the table is exactly as before.

No credential appears in any message or log line, whatever the server echoes. The cases beyond the
matrix (paging, schema drift, empty answers, renamed fields) are tests/test_fault_cases.py.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any

import pytest

from connectors.errors import AuthenticationError, ConnectorError, FatalError, RetriableError
from connectors.registry import SOURCES
from connectors.sandbox import CREDENTIALS
from kpi_pipeline.config.sources import CREDENTIAL_FIELDS
from tests.connector_runs import content
from tests.fault_loads import TARGETS, before_state, clean_load, load


def test_every_emulated_platform_is_in_the_fault_matrix():
    assert set(TARGETS) == set(CREDENTIALS), "declare FAULT_TARGETS in the platform's emulator.py"


def _http_date(seconds: int) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


# name -> (fault kwargs, or a function of the target giving them; expected outcome)
RETRIED, FAILS_AUTH, FAILS, MALFORMED = "retried", "auth", "fails", "malformed"
FAULTS: dict[str, tuple[Any, str]] = {
    "429 Retry-After seconds": (dict(status=429, headers={"Retry-After": "7"}), RETRIED),
    "429 Retry-After date": (
        lambda t: dict(status=429, headers={"Retry-After": _http_date(30)}),
        RETRIED,
    ),
    "429 without Retry-After": (lambda t: dict(status=429, headers=t.throttled), RETRIED),
    "500": (dict(status=500), RETRIED),
    "502": (dict(status=502), RETRIED),
    "503": (dict(status=503), RETRIED),
    "connection reset": (dict(reset=True), RETRIED),
    "read timeout": (dict(hang=True), RETRIED),
    "truncated JSON": (dict(malformed=True), RETRIED),
    "HTML page with 200": (dict(html=True), RETRIED),
    "truncated JSON, persistent": (dict(malformed=True, times=50), FAILS),
    "token expired or revoked": (
        lambda t: {**dict(status=401, times=50), **(t.expired or {})},
        FAILS_AUTH,
    ),
    "server echoes the credential": (dict(echo=True, status=401, times=50), FAILS_AUTH),
    # 200 with `{}` (Stripe, Calendly, HubSpot, Meta do this in outages): no data,
    # not an empty window
    "empty object with 200": (dict(status=200, body={}, times=50), MALFORMED),
}


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
    for emulator in sandbox.emulators.values():  # the access tokens an emulator minted (Google's)
        out |= set(getattr(emulator, "tokens", ()))
    return {s for s in out if len(s) >= 8}


CASES = [(source, fault) for source in TARGETS for fault in FAULTS]


@pytest.mark.parametrize("source,fault", CASES, ids=[f"{s}:{f}" for s, f in CASES])
def test_fault(sandbox, fast_policy, caplog, source, fault):
    target = TARGETS[source]
    expected = clean_load(sandbox, target, fast_policy)
    wh, before = before_state(sandbox, target, fast_policy)
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
        load(sandbox, target, fast_policy, wh)
        assert content(wh, spec) == expected
        assert len(fast_policy.waits) >= 1
        if fault == "429 Retry-After seconds":
            assert fast_policy.waits[0] == 7.0
        if fault == "429 Retry-After date":
            assert 20 <= fast_policy.waits[0] <= 31
    else:
        with pytest.raises(ConnectorError) as info:
            load(sandbox, target, fast_policy, wh)
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

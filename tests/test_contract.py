"""One contract for every stream of every connector, against the sandbox.

A new connector needs its sandbox emulation and an entry in connectors.sandbox.CREDENTIALS,
not new test code: the streams come from connectors.registry. Faults are injected on the
stream's first request, whatever it is (Google Ads: the OAuth token call).
"""

import datetime as dt

import pytest

from connectors.errors import AuthenticationError, FatalError, RetriableError
from connectors.registry import SOURCES
from connectors.sandbox import CREDENTIALS
from connectors.streams import WHOLE_HISTORY_START
from kpi_pipeline.sources.windows import stream_context
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF
from tests.connector_runs import SETTINGS, content, make_client

STREAMS = [
    (source, name) for source, (_, specs) in sorted(SOURCES.items()) for name in sorted(specs)
]
IDS = [f"{s}/{n}" for s, n in STREAMS]
HTTP = [(s, n) for s, n in STREAMS if s in CREDENTIALS]  # the manual CSV has no API to fail
HTTP_IDS = [f"{s}/{n}" for s, n in HTTP]


def run(sandbox, source, name, policy, wh=None):
    spec = SOURCES[source][1][name]
    wh = wh or Warehouse(":memory:", "contract")
    window = spec.lookback_window(AS_OF)
    ctx = stream_context(SETTINGS, AS_OF)
    ctx.snapshot_date = AS_OF
    ctx.today = AS_OF + dt.timedelta(days=1)  # the session sandbox's clock
    result = load_stream(spec, make_client(sandbox, source, policy), window, ctx, wh)
    return spec, wh, result, window


@pytest.mark.parametrize("source,name", STREAMS, ids=IDS)
def test_stream_returns_records_with_unique_keys_and_business_dates(
    sandbox, fast_policy, source, name
):
    spec, wh, result, window = run(sandbox, source, name, fast_policy)
    assert result.rows > 0 and (result.requests >= 1 or spec.kind == "file")
    keys = ", ".join(spec.key)
    total, distinct, nulls = wh.query(
        f"select count(*), count(distinct ({keys})), count(*) filter (where "
        + " or ".join(f"{k} is null" for k in spec.key)
        + f") from raw.{spec.table}"
    )[0]
    assert total == result.rows and distinct == total and nulls == 0
    low, high = wh.query(
        f"select min({spec.date_column}), max({spec.date_column}) from raw.{spec.table}"
    )[0]
    first = window.start.replace(day=1) if spec.kind == "monthly" else window.start
    if spec.first_load_all or spec.kind == "file":
        first = (
            WHOLE_HISTORY_START if spec.first_load_all else dt.date(1900, 1, 1)
        )  # whole history / whole file
    if spec.kind != "file" and not spec.future_days:
        assert first <= low <= high <= AS_OF
    else:
        assert first <= low <= high
    bad_json = wh.query(
        f"select count(*) from raw.{spec.table} where json_valid(_record::varchar) is not true"
    )
    assert bad_json[0][0] == 0


@pytest.mark.parametrize("source,name", STREAMS, ids=IDS)
def test_reloading_the_same_range_changes_nothing(sandbox, fast_policy, source, name):
    spec, wh, _, _ = run(sandbox, source, name, fast_policy)
    before = content(wh, spec)
    run(sandbox, source, name, fast_policy, wh)
    assert content(wh, spec) == before


@pytest.mark.parametrize("source,name", HTTP, ids=HTTP_IDS)
def test_401_is_an_authentication_error_naming_the_setting(sandbox, fast_policy, source, name):
    # persistent: Google's clients refresh their token once on a 401 before giving up
    sandbox.servers[source].inject(r".*", status=401, times=5)
    with pytest.raises(AuthenticationError) as info:
        run(sandbox, source, name, fast_policy)
    assert f"sources.{source}" in str(info.value) and info.value.platform == source
    assert fast_policy.waits == []
    for secret in (
        "api_key",
        "access_token",
        "developer_token",
        "client_secret",
        "refresh_token",
        "token",
    ):
        assert CREDENTIALS[source].get(secret, "~none~") not in str(info.value)


@pytest.mark.parametrize("source,name", HTTP, ids=HTTP_IDS)
def test_429_with_retry_after_waits_as_told_then_succeeds(sandbox, fast_policy, source, name):
    sandbox.servers[source].inject(r".*", status=429, headers={"Retry-After": "3"}, times=1)
    _, _, result, _ = run(sandbox, source, name, fast_policy)
    assert fast_policy.waits == [3.0] and result.rows > 0 and result.retries == 1


@pytest.mark.parametrize("source,name", HTTP, ids=HTTP_IDS)
def test_5xx_is_retried_with_backoff(sandbox, fast_policy, source, name):
    sandbox.servers[source].inject(r".*", status=503, times=2)
    _, _, result, _ = run(sandbox, source, name, fast_policy)
    assert len(fast_policy.waits) == 2 and result.rows > 0


@pytest.mark.parametrize("source,name", HTTP, ids=HTTP_IDS)
def test_a_malformed_body_is_retried_and_if_it_persists_loads_nothing(
    sandbox, fast_policy, source, name
):
    spec, wh, _, _ = run(sandbox, source, name, fast_policy)
    before = content(wh, spec)
    sandbox.servers[source].inject(r".*", malformed=True, times=1)
    run(sandbox, source, name, fast_policy, wh)
    assert content(wh, spec) == before and len(fast_policy.waits) == 1
    sandbox.servers[source].inject(r".*", malformed=True, times=50)
    with pytest.raises(RetriableError, match=f"{source}/.*malformed JSON.*gave up after 4 attempt"):
        run(sandbox, source, name, fast_policy, wh)
    assert content(wh, spec) == before


# the data requests of each platform (not the OAuth token calls of Google's platforms)
DATA_PATHS = {"ga4": r":runReport", "google_ads": r"googleAds:searchStream"}


@pytest.mark.parametrize("source,name", HTTP, ids=HTTP_IDS)
def test_an_empty_object_with_200_fails_and_keeps_the_rows(sandbox, fast_policy, source, name):
    """`{}` with 200 is no answer about the window: the load fails naming the stream,
    nothing replaced."""
    spec, wh, _, _ = run(sandbox, source, name, fast_policy)
    before = content(wh, spec)
    sandbox.servers[source].inject(DATA_PATHS.get(source, r".*"), status=200, body={}, times=50)
    with pytest.raises(
        FatalError, match=rf"^{source}/{name}: malformed answer: .*nothing was loaded"
    ) as info:
        run(sandbox, source, name, fast_policy, wh)
    assert info.value.platform == source and "stored rows are kept" in str(info.value)
    assert content(wh, spec) == before and len(before) > 0

"""Retry, Retry-After, classification and redaction of the shared HTTP client."""

import base64
import email.utils
import time
from urllib.parse import quote, quote_plus

import pytest

from connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    RetriableError,
)
from connectors.http import HttpClient, RetryPolicy, parse_retry_after, redact, register_secret
from connectors.sandbox.server import ApiServer, Response


@pytest.fixture
def server():
    srv = ApiServer(
        "acme",
        lambda status, detail: Response(
            status, {"error": {"message": detail}}, headers={"X-Request-Id": "req-42"}
        ),
    )
    srv.route("GET", r"/v1/things")(lambda req: Response(200, {"data": [1, 2]}))
    url = srv.start()
    yield srv, url
    srv.stop()


def client(url, policy, **kw):
    # generous: only the faults a test injects may make a request fail, so retries count exactly
    return HttpClient("acme", url, policy=policy, timeout=(30, 60), **kw)


def test_retry_after_seconds_is_honoured(server, fast_policy):
    srv, url = server
    srv.inject(r"/v1/things", status=429, headers={"Retry-After": "7"}, times=2)
    c = client(url, fast_policy)
    assert c.request_json("GET", "/v1/things") == {"data": [1, 2]}
    assert fast_policy.waits == [7.0, 7.0]
    assert c.stats.requests == 3 and c.stats.retries == 2


def test_retry_after_http_date_is_parsed():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= parse_retry_after(when) <= 30.5
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("-3") == 0.0


def test_server_errors_back_off_exponentially_then_succeed(server):
    srv, url = server
    waits = []
    policy = RetryPolicy(max_attempts=5, backoff_base=1.0, backoff_cap=30, sleep=waits.append)
    srv.inject(r"/v1/things", status=503, times=3)
    assert client(url, policy).request_json("GET", "/v1/things")["data"] == [1, 2]
    assert len(waits) == 3
    for attempt, wait in enumerate(waits, start=1):  # full jitter in [ceiling/2, ceiling]
        ceiling = 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


def test_gives_up_after_max_attempts_naming_platform_status_and_request_id(server, fast_policy):
    srv, url = server
    srv.inject(r"/v1/things", status=500, times=10)
    with pytest.raises(RetriableError) as info:
        client(url, fast_policy).request_json("GET", "/v1/things", stream="things")
    text = str(info.value)
    assert (
        "acme/things" in text and "HTTP 500" in text and "req-42" in text and "/v1/things" in text
    )
    assert "gave up after 4 attempt(s)" in text


def test_total_wait_cap_stops_before_a_huge_retry_after(server):
    srv, url = server
    waits = []
    srv.inject(r"/v1/things", status=429, headers={"Retry-After": "3600"}, times=5)
    policy = RetryPolicy(max_attempts=5, max_total_wait=60, sleep=waits.append)
    with pytest.raises(RateLimitedError, match="gave up after 1 attempt"):
        client(url, policy).request_json("GET", "/v1/things")
    assert waits == []


def test_401_fails_at_once_naming_the_setting(server, fast_policy):
    srv, url = server
    srv.inject(r"/v1/things", status=401, times=5)
    with pytest.raises(AuthenticationError) as info:
        client(url, fast_policy, credential_setting="sources.acme.token").request_json(
            "GET", "/v1/things"
        )
    assert "sources.acme.token" in str(info.value)
    assert fast_policy.waits == []


def test_404_is_a_configuration_error(server, fast_policy):
    _, url = server
    with pytest.raises(ConfigurationError):
        client(url, fast_policy).request_json("GET", "/v1/nothing")


def test_malformed_json_or_an_html_page_is_retried_then_named(server, fast_policy):
    srv, url = server
    srv.inject(r"/v1/things", malformed=True, times=10)
    with pytest.raises(
        RetriableError, match=r"acme: the API answered with malformed JSON .*gave up after 4"
    ):
        client(url, fast_policy).request_json("GET", "/v1/things")
    srv.clear_faults()
    srv.inject(r"/v1/things", html=True, times=10)
    with pytest.raises(
        RetriableError, match=r"an HTML page instead of JSON.*check sources.acme.base_url"
    ):
        client(url, fast_policy).request_json("GET", "/v1/things")


def test_slow_response_times_out_and_is_retried(server, fast_policy):
    srv, url = server
    # the first answer never comes (the server hangs until released), so the short read timeout
    # fires however fast the machine is; the retry's timeout is generous, so a busy machine cannot
    # make it time out too
    hanging = srv.inject(r"/v1/things", hang=True, times=1)
    c = HttpClient("acme", url, policy=fast_policy, timeout=(30, 0.5))

    def wait(seconds: float) -> None:
        fast_policy.waits.append(seconds)
        c.timeout = (30, 60)

    fast_policy.sleep = wait
    assert c.request_json("GET", "/v1/things")["data"] == [1, 2]
    assert c.stats.retries == 1 and c.stats.requests == 2
    hanging.release.set()


def test_connection_refused_is_retriable(fast_policy):
    with pytest.raises(RetriableError, match="ConnectionError"):
        client("http://127.0.0.1:9", fast_policy).request_json("GET", "/x")
    assert len(fast_policy.waits) == 3


def test_redaction_of_registered_secrets_params_and_headers():
    register_secret("s3cr3t-value-123")
    text = redact(
        "GET /x?access_token=abc&api_key=def&page=2 Authorization: "
        "Bearer tok123 key s3cr3t-value-123"
    )
    assert (
        "abc" not in text
        and "def" not in text
        and "tok123" not in text
        and "s3cr3t-value-123" not in text
    )
    assert "page=2" in text


def test_redaction_of_a_secret_echoed_re_encoded_or_in_part():
    key = "k7Qz-p9Lm2Xv8Rt4Wn6Yb1Hc5-us6"
    register_secret(key)
    for part in (key[:14], key[-13:], key[3:17]):  # a start, an end, a middle
        assert redact(f"invalid token {part}...") == "invalid token ***..."
    for pair in (f"user:{key}", f":{key}", f"{key}:", f"Bearer {key}", f"anystring:{key}", key):
        encoded = base64.b64encode(pair.encode()).decode()
        for echo in (
            encoded,
            encoded.rstrip("="),
            base64.urlsafe_b64encode(pair.encode()).decode(),
            quote(f"Basic {encoded}", safe=""),
            quote_plus(f"Basic {encoded}"),
        ):
            text = redact(f"the platform said: {echo}")
            assert text.startswith("the platform said: ") and "***" in text, echo
            left = len(text) - len("the platform said: ") - 3 * text.count("***")
            assert left <= len(echo) - len(key), (echo, text)  # the key's share of the echo is gone
    # the parts that are nobody's secret stay: 11 characters of it, a webhook URL's host
    register_secret("http://127.0.0.1:8123/services/T000/B000/s3cretWebhookToken")
    assert (
        redact(f"{key[:11]} http://127.0.0.1:8123/other")
        == f"{key[:11]} http://127.0.0.1:8123/other"
    )
    assert (
        redact("posting to http://127.0.0.1:8123/services/T000/B000/s3cretWebhookToken")
        == "posting to ***"
    )


def test_error_messages_never_carry_the_bearer_token(server, fast_policy):
    srv, url = server
    srv.inject(
        r"/v1/things",
        status=403,
        body={"error": {"message": "token tok-999-secret is not allowed"}},
    )
    c = client(url, fast_policy, headers={"Authorization": "Bearer tok-999-secret"})
    with pytest.raises(AuthenticationError) as info:
        c.request_json("GET", "/v1/things")
    assert "tok-999-secret" not in str(info.value)

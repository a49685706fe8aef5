"""The one place for HTTP mechanics: sessions, timeouts, retries, Retry-After, redaction.

Platform modules never retry on their own. They either use :class:`HttpClient` (plain
``requests``) or wrap an official SDK call with :func:`call_with_retries`, so every
platform shares one policy: retry 429, 5xx and connection errors with exponential backoff
and full jitter, honour ``Retry-After`` (seconds or HTTP date), and stop after a cap on
attempts and on total waiting time.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests

from connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    FatalError,
    RateLimitedError,
    RetriableError,
)

# redaction lives in its own module; connectors have always imported it from here
from connectors.redaction import RedactingFilter, redact, register_secret  # noqa: F401

log = logging.getLogger("kpi.http")
T = TypeVar("T")

# --------------------------------------------------------------------------- retry policy


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class RetryPolicy:
    """How often and how long to retry a retriable failure.

    Attributes:
        max_attempts: attempts in all, the first included.
        backoff_base: seconds before the first retry; doubles each time (full jitter).
        backoff_cap: the longest single wait.
        max_total_wait: give up rather than wait longer than this in all.
        sleep: injectable for tests.
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_total_wait: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def wait_for(self, attempt: int, error: RetriableError) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if error.retry_after is not None:
            return float(error.retry_after)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)


@dataclass
class CallStats:
    """Counts what a stream cost: HTTP requests made and retries taken."""

    requests: int = 0
    retries: int = 0
    waited: float = 0.0


def call_with_retries(
    attempt: Callable[[], T], policy: RetryPolicy, stats: CallStats | None = None
) -> T:
    """Run ``attempt`` until it succeeds, retrying :class:`RetriableError` per ``policy``.

    Raises:
        RetriableError: when attempts or the total wait are used up (message says so).
        ConnectorError: any non-retriable error, at once.
    """
    waited = 0.0
    for number in range(1, policy.max_attempts + 1):
        if stats is not None:
            stats.requests += 1
        try:
            return attempt()
        except RetriableError as error:
            delay = policy.wait_for(number, error)
            if number == policy.max_attempts or waited + delay > policy.max_total_wait:
                error.detail += f"; gave up after {number} attempt(s) and {waited:.1f}s of waiting"
                error.hint = error.hint or "the platform is throttling or failing; try again later"
                error.args = (error._render(),)
                raise
            log.warning("%s; retry %d in %.1fs", error, number, delay)
            if stats is not None:
                stats.retries += 1
                stats.waited += delay
            waited += delay
            policy.sleep(delay)
    raise AssertionError("unreachable")


def classify_status(
    status: int | None,
    *,
    platform: str,
    stream: str | None,
    path: str | None,
    message: str,
    request_id: str | None = None,
    retry_after: float | None = None,
    credential_setting: str | None = None,
) -> ConnectorError:
    """Map an HTTP status (None: no response at all) to the error class the caller needs."""
    kwargs: dict[str, Any] = dict(
        platform=platform, stream=stream, status=status, path=path, request_id=request_id
    )
    if status is None:
        return RetriableError(message, **kwargs, hint="check the network or base_url")
    if status == 429:
        return RateLimitedError(message, **kwargs, retry_after=retry_after)
    if status >= 500:
        return RetriableError(message, **kwargs, retry_after=retry_after)
    if status in (401, 403):
        setting = credential_setting or f"sources.{platform} credentials"
        return AuthenticationError(
            message, **kwargs, hint=f"check {setting} (missing, wrong, expired or lacking access)"
        )
    if status in (400, 404, 422):
        return ConfigurationError(message, **kwargs, hint=f"check the ids in sources.{platform}")
    return FatalError(message, **kwargs)


# --------------------------------------------------------------------------- client


class HttpClient:
    """A ``requests`` session bound to one platform, with the shared retry policy.

    Args:
        platform: the source name, used in every message.
        base_url: scheme, host and path prefix; paths are appended to it.
        headers: sent with every request (auth headers are redacted from messages).
        timeout: (connect, read) seconds for every call.
        error_parser: turns a failed response into (message, request id); per platform.
        credential_setting: the kpi.yaml path named when authentication fails.
        classifier: platform rules that beat the HTTP status (return None to use the status).
    """

    def __init__(
        self,
        platform: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        policy: RetryPolicy | None = None,
        error_parser: Callable[[requests.Response], tuple[str, str | None]] | None = None,
        credential_setting: str | None = None,
        classifier: Callable[[requests.Response, str | None, str], ConnectorError | None]
        | None = None,
    ) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        for value in (headers or {}).values():
            if value.lower().startswith(("bearer ", "basic ")):
                register_secret(value.split(" ", 1)[1])
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.error_parser = error_parser or default_error_parser
        self.credential_setting = credential_setting
        self.classifier = classifier
        self.stats = CallStats()

    def request_json(
        self, method: str, path: str, *, stream: str | None = None, **kwargs: Any
    ) -> Any:
        """Send one request (retrying as the policy says) and return the parsed JSON body."""

        def attempt() -> Any:
            response = self._send(method, path, stream, **kwargs)
            try:
                return response.json()
            except ValueError:
                raise bad_body(
                    self.platform,
                    stream,
                    path,
                    response.status_code,
                    response.headers.get("Content-Type"),
                    _request_id(response),
                ) from None

        return call_with_retries(attempt, self.policy, self.stats)

    def _send(self, method: str, path: str, stream: str | None, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(
                f"{exc.__class__.__name__} calling the API",
                platform=self.platform,
                stream=stream,
                path=path,
                hint="check the network or base_url",
            ) from None
        if response.ok:
            return response
        if self.classifier is not None:
            special = self.classifier(response, stream, path)
            if special is not None:
                told = parse_retry_after(response.headers.get("Retry-After"))
                if special.retriable and told is not None:
                    special.retry_after = told  # an explicit Retry-After beats the platform's hints
                raise special
        message, request_id = self.error_parser(response)
        raise classify_status(
            response.status_code,
            platform=self.platform,
            stream=stream,
            path=path,
            message=message,
            request_id=request_id or _request_id(response),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            credential_setting=self.credential_setting,
        )


def bad_body(
    platform: str,
    stream: str | None,
    path: str | None,
    status: int | None,
    content_type: str | None,
    request_id: str | None = None,
    detail: str = "",
) -> RetriableError:
    """A response that is not the JSON the API sends: cut short, or a proxy's HTML page. Usually
    passing (a dropped connection, a maintenance page), so it is retried; if it persists the
    message says what came instead."""
    what = (
        "an HTML page instead of JSON"
        if "html" in (content_type or "").lower()
        else f"malformed JSON{f' ({detail})' if detail else ''} (cut short?)"
    )
    return RetriableError(
        f"the API answered with {what}",
        platform=platform,
        stream=stream,
        status=status,
        path=path,
        request_id=request_id,
        hint=f"if it persists, check sources.{platform}.base_url and any proxy in between",
    )


def _request_id(response: requests.Response) -> str | None:
    for name in ("X-Request-Id", "Request-Id", "X-FB-Trace-ID", "X-HubSpot-Correlation-Id"):
        if response.headers.get(name):
            return response.headers[name]
    return None


def default_error_parser(response: requests.Response) -> tuple[str, str | None]:
    """A short message from a JSON error body, or the start of a text one."""
    try:
        body = response.json()
    except ValueError:
        return (response.text[:200].strip() or response.reason or "error"), None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            text = (
                err.get("message") or err.get("detail") or err.get("title") or json.dumps(err)[:200]
            )
            return str(text), err.get("request_id") or err.get("fbtrace_id")
    return json.dumps(body)[:200], None


class HttpConnector:
    """Base of the connectors built on one :class:`HttpClient`: its request stats and policy."""

    http: HttpClient

    @property
    def stats(self) -> CallStats:
        return self.http.stats

    @property
    def policy(self) -> RetryPolicy:
        return self.http.policy

    @policy.setter
    def policy(self, value: RetryPolicy) -> None:
        self.http.policy = value

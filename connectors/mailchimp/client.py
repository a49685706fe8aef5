"""Mailchimp's SDK client under our own policies (docs/PLATFORMS.md#mailchimp).

The SDK has no retries, a 120 s default timeout, and hands back problem+json error bodies
as raw strings (their content type is not ``application/json``), so every call goes
through :meth:`MailchimpClient.call`: our retry policy, a real timeout, and errors parsed
and classified like any other platform's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import mailchimp_marketing as MailchimpMarketing
import requests
from mailchimp_marketing.api_client import ApiClientError

from connectors.errors import ConfigurationError, FatalError, RetriableError
from connectors.http import (
    CallStats,
    RetryPolicy,
    bad_body,
    call_with_retries,
    classify_status,
    parse_retry_after,
    register_secret,
)
from connectors.mailchimp import PLATFORM
from connectors.pagination import OffsetPaginator

PAGE_SIZE = 1000


class MailchimpClient:
    """The SDK client with our retry, timeout and error policy.

    Args:
        api_key: ``<key>-<dc>``; the suffix names the data center.
        base_url: overrides ``https://<dc>.api.mailchimp.com/3.0`` (sandbox, proxies).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not api_key or "-" not in api_key:
            raise ConfigurationError(
                "the API key has no data-center suffix (like -us6)",
                platform=PLATFORM,
                hint="set sources.mailchimp.api_key to the full key, e.g. ...-us6",
            )
        register_secret(api_key)
        # the SDK sends HTTP Basic auth as ("user", key): its base64 form is the key too
        register_secret(base64.b64encode(f"user:{api_key}".encode()).decode())
        self.sdk = MailchimpMarketing.Client()
        self.sdk.set_config(
            {"api_key": api_key, "server": api_key.rsplit("-", 1)[1], "timeout": timeout}
        )
        if base_url:
            self.sdk.api_client.host = base_url.rstrip("/")
            # the SDK replaces every "server" substring in the URL with the data center;
            # with an explicit base URL there is nothing to replace
            self.sdk.api_client.server = ""
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        # The SDK's errors carry no headers; keep the last response to read Retry-After and
        # X-Request-Id from it (the SDK's own request method, wrapped on this instance only).
        self.last_response: requests.Response | None = None
        send = self.sdk.api_client.request

        def request(*args: Any, **kwargs: Any) -> requests.Response:
            self.last_response = None
            self.last_response = send(*args, **kwargs)
            return self.last_response

        self.sdk.api_client.request = request

    def call(self, stream: str, path: str, fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        """One SDK call under the shared retry policy; returns the JSON body."""

        def attempt() -> dict[str, Any]:
            try:
                result = fn(**kwargs)
            except ApiClientError as err:
                raise _classify(err, stream, path, self.last_response) from None
            if isinstance(
                result, requests.Response
            ):  # SDK returns the response when the body is not JSON
                if not result.ok:
                    raise classify_status(
                        result.status_code,
                        platform=PLATFORM,
                        stream=stream,
                        path=path,
                        message=result.reason or "error without a body",
                        request_id=result.headers.get("X-Request-Id"),
                        credential_setting="sources.mailchimp.api_key",
                    )
                if _empty_object(
                    result
                ):  # the SDK hands back `{}` as the response: a page without its list
                    return {}
                raise bad_body(
                    PLATFORM,
                    stream,
                    path,
                    result.status_code,
                    result.headers.get("Content-Type"),
                    result.headers.get("X-Request-Id"),
                )
            if isinstance(result, str) and (parsed := _json_object(result)) is not None:
                return parsed  # JSON under another content type (problem+json): judged by its keys
            if isinstance(result, str):  # the SDK hands back a body that is not JSON as text
                headers = self.last_response.headers if self.last_response is not None else {}
                raise bad_body(
                    PLATFORM,
                    stream,
                    path,
                    getattr(self.last_response, "status_code", None),
                    headers.get("Content-Type"),
                    headers.get("X-Request-Id"),
                )
            if not isinstance(result, dict):
                raise FatalError(
                    f"unexpected body of type {type(result).__name__}",
                    platform=PLATFORM,
                    stream=stream,
                    path=path,
                )
            return result

        return call_with_retries(attempt, self.policy, self.stats)

    def paged(
        self,
        stream: str,
        path: str,
        fn: Callable[..., Any],
        items_key: str,
        page_size: int = PAGE_SIZE,
        **kwargs: Any,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the ``items_key`` list of each page, offset-paging until the last page."""
        paginator = OffsetPaginator(page_size).for_stream(PLATFORM, stream)
        params = paginator.first_params()
        while True:
            body = self.call(stream, path, fn, **kwargs, **params)
            items = body.get(items_key)
            if not isinstance(items, list):
                raise FatalError(
                    f"malformed answer: no '{items_key}' list of records; nothing was loaded",
                    platform=PLATFORM,
                    stream=stream,
                    path=path,
                    hint="the platform answered 200 without its data (an outage or a changed API); "
                    "the stored rows are kept; run the sync again, and report it if it persists",
                )
            yield items
            paginator.update(body, items)
            if not paginator.has_next:
                return
            params = paginator.next_params()

    def list_ids(self, stream: str) -> list[str]:
        ids: list[str] = []
        for items in self.paged(
            stream,
            "/lists",
            self.sdk.lists.get_all_lists,
            "lists",
            fields=["lists.id", "total_items"],
        ):
            ids.extend(item["id"] for item in items)
        return ids


def _json_object(text: str) -> dict[str, Any] | None:
    """``text`` parsed when it is a JSON object, else None."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _empty_object(response: requests.Response) -> bool:
    """Whether a response's body is the JSON ``{}`` (the SDK returns such a response,
    not a dict)."""
    try:
        return response.json() == {}
    except ValueError:
        return False


def _classify(
    err: ApiClientError, stream: str, path: str, response: requests.Response | None
) -> Exception:
    if err.status_code is None:  # network failure wrapped by the SDK
        return RetriableError(
            f"{type(err.text).__name__} calling the API",
            platform=PLATFORM,
            stream=stream,
            path=path,
            hint="check the network or sources.mailchimp.base_url",
        )
    body: Any = err.text
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            body = {"detail": body[:200]}
    body = body if isinstance(body, dict) else {}
    message = " - ".join(str(body[k]) for k in ("title", "detail") if body.get(k)) or "error"
    headers = response.headers if response is not None else {}
    request_id = body.get("instance") or body.get("ref_no") or headers.get("X-Request-Id")
    return classify_status(
        err.status_code,
        platform=PLATFORM,
        stream=stream,
        path=path,
        message=message,
        request_id=request_id,
        retry_after=parse_retry_after(headers.get("Retry-After")),
        credential_setting="sources.mailchimp.api_key",
    )

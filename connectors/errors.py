"""Connector errors, classified by what the caller should do.

    ConnectorError                  base: every failure talking to a platform
    ├── RetriableError              429, 5xx, connection errors, timeouts: try again later
    │   └── RateLimitedError        the platform asked us to slow down (429, Graph codes 4/17/...)
    ├── AuthenticationError         401/403: the credential setting named in the message is wrong
    ├── ConfigurationError          the request itself is wrong for this account (bad id, 404)
    └── FatalError                  anything else: malformed payloads, repeating cursors, 4xx

Every message names the platform, stream, HTTP status, path and the provider's request id
when there is one, and never a secret (see ``connectors.redaction.redact``).
"""

from __future__ import annotations

from typing import TypedDict

from connectors.redaction import redact


class ErrorContext(TypedDict):
    """Where a failure happened: the keyword arguments a classifier passes to
    every error it builds."""

    platform: str
    stream: str | None
    status: int | None
    path: str | None
    request_id: str | None


class ConnectorError(Exception):
    """A failure talking to a platform; the message says what to do about it."""

    retriable = False

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        stream: str | None = None,
        status: int | None = None,
        path: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.platform = platform
        self.stream = stream
        self.status = status
        self.path = path
        self.request_id = request_id
        self.hint = hint
        self.retry_after = retry_after
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.platform + (f"/{self.stream}" if self.stream else "")
        parts = [f"{where}: {self.detail}"]
        facts = []
        if self.status is not None:
            facts.append(f"HTTP {self.status}")
        if self.path:
            facts.append(f"path {self.path}")
        if self.request_id:
            facts.append(f"request id {self.request_id}")
        if facts:
            parts.append(f"({', '.join(facts)})")
        if self.hint:
            parts.append(f"-> {self.hint}")
        return redact(" ".join(parts))


class RetriableError(ConnectorError):
    """Transient: rate limits, server errors, dropped connections, timeouts."""

    retriable = True


class RateLimitedError(RetriableError):
    """The platform throttled us; ``retry_after`` says how long it asked us to wait."""


class AuthenticationError(ConnectorError):
    """The credential is missing, wrong, expired or lacks permission (401/403)."""


class ConfigurationError(ConnectorError, ValueError):
    """The request is wrong for this account: unknown id, wrong data center, bad parameter."""


class FatalError(ConnectorError):
    """Not worth retrying: malformed payloads, repeating cursors, unexpected 4xx."""

"""Secrets out of every text: registered values in the forms a server may echo them back in.

A platform, a proxy or an SDK that repeats a credential rarely repeats it verbatim alone: it shows
a token's first characters ("sk_live_51Hx..."), the base64 of an ``Authorization: Basic`` or
``Bearer`` header, or the header URL-encoded in a query string. So a registered secret is redacted
in all of these forms:

- itself and its URL-encodings (``quote`` and ``quote_plus``);
- its base64 (standard and URL-safe alphabets) inside any base64 text: the characters that encode
  only the secret's own bytes, at each of the three byte alignments, so the base64 of ``user:key``,
  ``:key``, ``key:`` or ``Bearer key`` is caught whatever comes around the key, padding or not;
- any run of :data:`MIN_RUN` or more consecutive characters of any of those forms (a prefix, a
  suffix, a piece between two URL escapes).

The last rule applies to secrets made of token characters only (letters, digits and ``._~+/=%-``);
a secret with other characters, like a webhook URL whose scheme and host are no secret, is
redacted whole in each of its forms. Text is scanned once per call: only runs of 12+ token
characters are looked at, each window looked up in a set.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from urllib.parse import quote, quote_plus

MIN_RUN = 12  # this many consecutive characters of a secret are a leak wherever they appear
_TOKEN = r"A-Za-z0-9._~+/=%-"
_TOKEN_ONLY = re.compile(f"[{_TOKEN}]+")
_TOKEN_RUN = re.compile(f"[{_TOKEN}]{{{MIN_RUN},}}")
_URLSAFE = str.maketrans("+/", "-_")

_LOCK = threading.Lock()
_SECRETS: set[str] = set()
# forms replaced as a whole (longest first), and every MIN_RUN-character window of the forms of
# token-like secrets; replaced together, never changed in place
_STATE: tuple[list[str], set[str]] = ([], set())

_SECRET_PARAM = re.compile(
    r"(?i)((?:api_?key|access_token|refresh_token|client_secret|client_id|assertion|token|password|apikey|key)=)"
    r"[^&\s\"']+"
)
# whatever was registered, these are secrets wherever they appear: signed JWTs (a Google service
# account's assertion or self-signed token), Google OAuth access tokens, and credential fields
# that a server echoes back in JSON
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_GOOGLE_TOKEN = re.compile(r"ya29\.[A-Za-z0-9._-]+")
_SECRET_JSON = re.compile(
    r'(?i)((?:\\?")(?:access_token|refresh_token|client_secret|client_id|id_token|assertion|api_?key|apikey|password|'
    r'token|authorization|developer-token|private_key)(?:\\?")\s*:\s*(?:\\?"))[^"\\]*'
)
_AUTH_HEADER = re.compile(
    r"(?i)((?:authorization|developer-token)['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(?:basic|bearer|oauth)\s+)?[^\s,'\"}]+"
)


def base64_cores(secret: str) -> list[str]:
    """The base64 characters that encode only ``secret``'s bytes, at each of the three alignments
    it can have inside a longer encoded text (``user:`` before it shifts it by 5 bytes: 2 mod 3)."""
    data = secret.encode()
    cores = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode().rstrip("=")
        # character i carries bits 6i..6i+5: keep those that fall inside the secret's bits
        first, last = -(-8 * shift // 6), 8 * (shift + len(data)) // 6
        if last > first:
            cores.append(encoded[first:last])
    return cores


def secret_forms(secret: str) -> set[str]:
    """``secret`` as it may come back: itself, URL-encoded, and the pure part of its base64."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    for core in base64_cores(secret):
        forms |= {core, core.translate(_URLSAFE), quote(core, safe="")}
    if len(secret) < MIN_RUN or not _TOKEN_ONLY.fullmatch(secret):
        # too short or not a token for windows: its base64 whole (with and without padding), bare
        # and as the basic-auth pairs a client builds from it
        for text in (secret, f":{secret}", f"{secret}:", f"user:{secret}"):
            encoded = base64.b64encode(text.encode()).decode()
            forms |= {
                encoded,
                encoded.rstrip("="),
                encoded.translate(_URLSAFE),
                quote(encoded, safe=""),
            }
    return {f for f in forms if len(f) >= 4}


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` removes it, and its echoed forms, from any text."""
    global _STATE
    if not value or len(value) < 4:
        return
    with _LOCK:
        if value in _SECRETS:
            return
        _SECRETS.add(value)
        windowed = len(value) >= MIN_RUN and _TOKEN_ONLY.fullmatch(value)
        whole, windows = (
            set(_STATE[0]),
            set(_STATE[1]),
        )  # new objects: redact() reads them without the lock
        for form in secret_forms(value):
            if windowed and len(form) >= MIN_RUN and _TOKEN_ONLY.fullmatch(form):
                windows.update(form[i : i + MIN_RUN] for i in range(len(form) - MIN_RUN + 1))
            else:
                whole.add(form)
        _STATE = (sorted(whole, key=len, reverse=True), windows)


def _redact_runs(text: str, windows: set[str]) -> str:
    """Replace each stretch of text covered by windows of secrets with ``***``."""
    spans: list[list[int]] = []
    for run in _TOKEN_RUN.finditer(text):
        start, chunk = run.start(), run.group()
        for i in range(len(chunk) - MIN_RUN + 1):
            if chunk[i : i + MIN_RUN] in windows:
                begin, end = start + i, start + i + MIN_RUN
                if spans and begin <= spans[-1][1]:
                    spans[-1][1] = end  # overlapping windows: one stretch
                else:
                    spans.append([begin, end])
    for begin, end in reversed(spans):
        text = text[:begin] + "***" + text[end:]
    return text


def redact(text: str) -> str:
    """Remove registered secrets (in their echoed forms), secret-looking query
    parameters and auth headers."""
    whole, windows = _STATE  # one read: a pair registered together
    for form in whole:
        text = text.replace(form, "***")
    if windows:
        text = _redact_runs(text, windows)
    text = _JWT.sub("***", text)
    text = _GOOGLE_TOKEN.sub("***", text)
    text = _SECRET_JSON.sub(r"\1***", text)
    text = _SECRET_PARAM.sub(r"\1***", text)
    return _AUTH_HEADER.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """Redacts a library's log records (urllib3 logs each URL, query string included, at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg, record.args = record.getMessage(), None
        record.msg = redact(str(record.msg))
        return True


for _name in (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "google.auth.transport.requests",
    "google.auth._default",
    "google_auth_httplib2",
    "google.api_core",
    "kpi.http",
):
    logging.getLogger(_name).addFilter(RedactingFilter())

"""No credential is ever printed, logged or stored, even when every API echoes it back.

A real sync through Dagster, every source's server answering each data request with the
request's own headers, query and body (credentials and minted tokens included) in its error
body and response headers. Afterwards no credential, no token the clients minted (the Google
Ads access token, the GA4 service account's signed JWT) and no Authorization header they
sent may appear in stdout or stderr, in any file of the Dagster instance (run and event
databases, compute logs) or in the warehouse and its published copy.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

from connectors.registry import platforms
from connectors.sandbox import CREDENTIALS
from kpi_pipeline.cli.main import main
from kpi_pipeline.config.sources import CREDENTIAL_FIELDS
from tests.conftest import AS_OF, live_environment, subset_config

SOURCES = [name for name, p in platforms().items() if p.credentials]  # every platform with a secret
DATA_PATHS = (
    r"/members|/activity|/reports|/growth-history|:runReport|/insights|/\d{17}$|googleAds:|/v1/|"
    r"/scheduled_events|/users/me|/search"
)


def _sent_secrets(sandbox) -> set[str]:
    out = {CREDENTIALS[s][f] for s in SOURCES for f in CREDENTIAL_FIELDS[s] if f in CREDENTIALS[s]}
    for server in {id(s): s for s in sandbox.servers.values()}.values():
        for req in server.requests:
            for name in ("authorization", "developer-token"):
                if req.headers.get(name):
                    out.add(req.headers[name].split(" ", 1)[-1])
            if req.query.get("access_token"):
                out.add(req.query["access_token"])
    out |= set(sandbox.ga4.tokens) | set(sandbox.google_ads.tokens)
    return {s for s in out if len(s) >= 8}


def test_an_api_that_echoes_credentials_leaks_nothing_anywhere(
    sandbox, tmp_path, monkeypatch, capfd
):
    live_environment(monkeypatch, sandbox, tmp_path)
    path = subset_config(tmp_path, sandbox, SOURCES, AS_OF)
    for server in {id(s): s for s in sandbox.servers.values()}.values():
        server.requests.clear()
        server.inject(DATA_PATHS, echo=True, status=401, times=10_000)
    code = main(["sync", "--config", str(path), "--as-of", AS_OF.isoformat()])
    said = capfd.readouterr()
    assert code == 1 and "failed:" in said.out
    secrets = _sent_secrets(sandbox)
    assert any(s.startswith("ya29.") for s in secrets)  # the minted Google Ads token was echoed too
    assert any(s.startswith("eyJ") for s in secrets) or sandbox.ga4.tokens  # GA4's JWT or its token
    for secret in secrets:
        assert secret not in said.out + said.err, f"printed: {secret[:6]}..."
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "kpi.yaml"]
    assert any("history" in p.parts for p in files) and any(p.suffix == ".duckdb" for p in files)
    for file in files:
        data = file.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (
                f"{file.relative_to(tmp_path)} holds {secret[:6]}..."
            )
    assert Path(tmp_path / ".dagster").exists()


def _reencoded(value: str) -> str:
    """What a platform below says instead of a credential: its first 14 characters, its base64, its
    URL-encoding (Mailchimp's ``Basic dXNl...=`` login header becomes ``Basic%20dXNl...%3D``)."""
    return f"{value[:14]}... {base64.b64encode(value.encode()).decode()} {quote(value, safe='')}"


def test_an_api_that_echoes_credentials_re_encoded_leaks_none_of_their_forms(
    sandbox, tmp_path, monkeypatch, capfd
):
    live_environment(monkeypatch, sandbox, tmp_path)
    path = subset_config(tmp_path, sandbox, SOURCES, AS_OF)
    servers = {id(s): s for s in sandbox.servers.values()}.values()
    for server in servers:
        server.requests.clear()
        server.inject(DATA_PATHS, echo=True, echo_as=_reencoded, status=401, times=10_000)
    code = main(["sync", "--config", str(path), "--as-of", AS_OF.isoformat()])
    said = capfd.readouterr()
    assert code == 1 and "failed:" in said.out
    secrets = _sent_secrets(sandbox)
    headers = {
        req.headers[name]
        for server in servers
        for req in server.requests
        for name in ("authorization", "developer-token")
        if req.headers.get(name)
    }
    assert any(h.startswith("Basic ") for h in headers) and any(
        h.startswith("Bearer ") for h in headers
    )
    forms = [(f"the first 14 characters of {s[:4]}...", s[:14]) for s in secrets if len(s) > 14]
    for value in secrets | headers:
        encoded = base64.b64encode(value.encode()).decode()
        forms += [
            (f"the base64 of {value[:4]}...", encoded),
            (f"the base64 of {value[:4]}..., URL-encoded", quote(encoded, safe="")),
            (f"the URL-encoding of {value[:4]}...", quote(value, safe="")),
        ]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "kpi.yaml"]
    assert any("history" in p.parts for p in files) and any(p.suffix == ".duckdb" for p in files)
    places = {
        "stdout and stderr": (said.out + said.err).encode(),
        **{str(p.relative_to(tmp_path)): p.read_bytes() for p in files},
    }
    leaks = [
        f"{place} holds {what}"
        for place, data in places.items()
        for what, form in forms
        if form.encode() in data
    ]
    assert not leaks, "\n".join(leaks)

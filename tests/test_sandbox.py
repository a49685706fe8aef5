"""The sandbox speaks Mailchimp's wire format (docs/PLATFORMS.md#mailchimp), checked plainly."""

import datetime as dt
import subprocess
import sys

import pytest
import requests

from connectors.sandbox import CREDENTIALS
from tests.conftest import AS_OF

AUTH = ("anystring", CREDENTIALS["mailchimp"]["api_key"])


def get(sandbox, path, **params):
    return requests.get(sandbox.urls["mailchimp"] + path, params=params, auth=AUTH, timeout=5)


def test_count_defaults_to_10_and_is_capped_at_1000(sandbox):
    body = get(sandbox, "/lists/a1b2c3d4e5/members").json()
    assert len(body["members"]) == 10 and body["total_items"] > 1000
    assert len(get(sandbox, "/lists/a1b2c3d4e5/members", count=5000).json()["members"]) == 1000


def test_offset_paging_and_total_items(sandbox):
    first = get(sandbox, "/lists/a1b2c3d4e5/members", count=3, offset=0).json()["members"]
    second = get(sandbox, "/lists/a1b2c3d4e5/members", count=3, offset=3).json()["members"]
    assert {m["id"] for m in first}.isdisjoint({m["id"] for m in second})


def test_fields_and_exclude_fields_project_by_dot_path(sandbox):
    body = get(sandbox, "/lists", fields="lists.id,lists.stats.member_count,total_items").json()
    assert body == {
        "lists": [
            {
                "id": "a1b2c3d4e5",
                "stats": {"member_count": body["lists"][0]["stats"]["member_count"]},
            }
        ],
        "total_items": 1,
    }
    body = get(
        sandbox, "/reports", count=1, exclude_fields="reports._links,reports.opens,_links"
    ).json()
    assert (
        "_links" not in body
        and "opens" not in body["reports"][0]
        and "clicks" in body["reports"][0]
    )


def test_links_everywhere_and_rates_on_two_scales(sandbox):
    lists = get(sandbox, "/lists").json()
    assert "_links" in lists and "_links" in lists["lists"][0]
    assert lists["lists"][0]["stats"]["open_rate"] > 1  # list level: 0-100
    report = get(sandbox, "/reports", count=1).json()["reports"][0]
    assert 0 < report["opens"]["open_rate"] < 1  # report level: 0-1


def test_errors_are_problem_json_with_request_id(sandbox):
    r = requests.get(sandbox.urls["mailchimp"] + "/lists", auth=("x", "nope-us6"), timeout=5)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert r.headers["X-Request-Id"] == body["instance"]
    missing = get(sandbox, "/lists/nope/activity")
    assert missing.status_code == 404 and missing.json()["title"] == "Resource Not Found"


def test_429_says_ten_connections(sandbox):
    sandbox.mailchimp.server.inject(r"/lists", status=429)
    r = get(sandbox, "/lists")
    assert r.status_code == 429 and "10 simultaneous connections" in r.json()["detail"]


def test_activity_covers_180_days_newest_first(sandbox):
    days = [
        a["day"] for a in get(sandbox, "/lists/a1b2c3d4e5/activity", count=1000).json()["activity"]
    ]
    assert len(days) == 180 and days[0] == AS_OF.isoformat() and days == sorted(days, reverse=True)


def test_growth_history_subscribed_is_a_month_end_stock(sandbox):
    history = get(sandbox, "/lists/a1b2c3d4e5/growth-history", count=1000).json()["history"]
    october = next(h for h in history if h["month"] == "2026-10")
    assert october["subscribed"] == sandbox.world.truth_subscribers(dt.date(2026, 10, 31))


def test_unknown_member_timestamps_are_empty_strings(sandbox):
    members = get(sandbox, "/lists/a1b2c3d4e5/members", count=1000).json()["members"]
    assert any(m["timestamp_opt"] == "" for m in members)


@pytest.mark.parametrize("param", ["since_send_time", "before_send_time"])
def test_send_time_filters(sandbox, param):
    cut = "2026-10-01T00:00:00+00:00"
    reports = get(sandbox, "/reports", count=1000, **{param: cut}).json()["reports"]
    assert reports and all((r["send_time"] >= cut) == (param == "since_send_time") for r in reports)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer ya29.not-one-we-issued"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["none", "unknown", "basic"],
)
def test_ga4_refuses_a_request_without_a_valid_credential_like_google(sandbox, headers):
    url = f"{sandbox.urls['ga4']}/v1beta/properties/123456789:runReport"
    body = {
        "dateRanges": [{"startDate": "2026-11-01", "endDate": "2026-11-02"}],
        "metrics": [{"name": "sessions"}],
    }
    response = requests.post(url, json=body, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_each_emulator_imports_first_in_a_fresh_interpreter():
    """An emulator imports the sandbox package (for its server); the package must not read every
    emulator at import, or importing one emulator before the sandbox is a circle."""
    from connectors.registry import platforms

    packages = [p.package for p in platforms().values() if p.emulator() is not None]
    assert packages
    for package in packages:
        done = subprocess.run(
            [sys.executable, "-c", f"import {package}.emulator"], capture_output=True, text=True
        )
        assert done.returncode == 0, f"{package}.emulator: {done.stderr.strip().splitlines()[-1:]}"

"""`kpi check --online`: one small request per source against the sandbox over real HTTP."""

import datetime as dt

import pytest

from connectors.registry import platforms
from kpi_pipeline.cli.main import main
from tests.conftest import AS_OF


def test_every_source_answers_with_good_credentials(live_config, capsys):
    assert (
        main(["check", "--config", str(live_config), "--online", "--as-of", AS_OF.isoformat()]) == 0
    )
    out = capsys.readouterr().out
    for source in platforms():
        assert f"  ok {source}: " in out, out
    assert "ok stripe: balance_transactions answered" in out


@pytest.mark.parametrize(
    "variable, source, setting",
    [
        ("MAILCHIMP_API_KEY", "mailchimp", "sources.mailchimp.api_key"),
        ("STRIPE_API_KEY", "stripe", "sources.stripe.api_key"),
        ("HUBSPOT_TOKEN", "hubspot", "sources.hubspot.token"),
    ],
)
def test_a_refused_credential_names_the_source_and_the_setting(
    live_config, capsys, monkeypatch, variable, source, setting
):
    wrong = "wrong-secret-value-1234-us1"
    monkeypatch.setenv(variable, wrong)
    assert (
        main(["check", "--config", str(live_config), "--online", "--as-of", AS_OF.isoformat()]) == 2
    )
    captured = capsys.readouterr()
    failed = [line for line in captured.out.splitlines() if line.startswith("  x ")]
    assert len(failed) == 1 and failed[0].startswith(f"  x {source}: ") and setting in failed[0], (
        captured.out
    )
    assert f"error: {source} refused or failed" in captured.err
    assert (
        wrong not in captured.out + captured.err and "  ok ga4: " in captured.out
    )  # the others still checked


def test_an_unreachable_platform_is_a_failure_not_bad_input(live_config, capsys, sandbox):
    sandbox.calendly.server.inject(r".*", status=503, times=100)
    code = main(["check", "--config", str(live_config), "--online", "--as-of", AS_OF.isoformat()])
    out = capsys.readouterr().out
    assert code == 1 and "  x calendly: " in out and "503" in out


def check(path):
    return main(["check", "--config", str(path), "--online", "--as-of", AS_OF.isoformat()])


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_configured_names_are_checked_against_the_account(live_config, capsys):
    assert check(live_config) == 0
    out = capsys.readouterr().out
    assert "  ok calendly: every configured name is one of the account's" in out
    assert "  ok hubspot: every configured name is one of the account's" in out


def test_an_event_type_the_account_lacks_is_refused_by_its_path_with_the_accounts_types(
    live_config, capsys
):
    from connectors.calendly.emulator import EVENT_TYPES, RETIRED_EVENT_TYPE

    edit(
        live_config,
        'intro_call_event_types: ["intro call"]',
        'intro_call_event_types: ["Intro call", "Intro cal"]',
    )
    assert check(live_config) == 2
    captured = capsys.readouterr()
    (line,) = [ln for ln in captured.out.splitlines() if "intro_call_event_types" in ln]
    assert line.startswith(
        "  x sources.calendly.intro_call_event_types[1]: 'Intro cal' is not an event type of "
        "this Calendly account; it has: "
    ), line
    for _, name in EVENT_TYPES.values():
        assert name in line
    assert f"{RETIRED_EVENT_TYPE[1]} (inactive)" in line
    assert "1 setting in kpi.yaml names what the account does not have" in captured.err


def test_a_lead_stage_the_account_lacks_is_refused_with_the_accounts_stages_custom_ones_too(
    live_config, capsys
):
    from connectors.hubspot.emulator import HUBSPOT_TOKEN, LIFECYCLE_STAGES

    edit(
        live_config,
        'hubspot: {token: "${HUBSPOT_TOKEN}"',
        'hubspot: {lead_stages: [MQL, lead, " Marketing Qualified Lead"], token: '
        '"${HUBSPOT_TOKEN}"',
    )
    assert check(live_config) == 2
    captured = capsys.readouterr()
    lines = [ln for ln in captured.out.splitlines() if "lead_stages" in ln]
    assert len(lines) == 2, captured.out
    assert lines[0].startswith(
        "  x sources.hubspot.lead_stages[0]: 'MQL' is not a lifecycle stage of this HubSpot "
        "account; it has: subscriber, lead, marketingqualifiedlead, "
    ), lines[0]
    for value, _label in LIFECYCLE_STAGES:
        assert value in lines[0]
    assert (
        "1093847562 (Nurture)" in lines[0]
    )  # a custom stage: its internal value, and the label it shows
    assert lines[1].startswith(
        "  x sources.hubspot.lead_stages[2]: ' Marketing Qualified Lead' is not a lifecycle "
        "stage of this HubSpot account (write the stage's internal value "
        "'marketingqualifiedlead', not its label)"
    )
    assert HUBSPOT_TOKEN not in captured.out + captured.err


def test_a_custom_stage_is_the_accounts_but_adds_no_leads(live_config, capsys):
    edit(
        live_config,
        'hubspot: {token: "${HUBSPOT_TOKEN}"',
        'hubspot: {lead_stages: [LEAD, "1093847562"], token: "${HUBSPOT_TOKEN}"',
    )
    assert check(live_config) == 0
    err = capsys.readouterr().err
    assert "warning: sources.hubspot.lead_stages[1]: '1093847562' is a custom stage" in err


def test_a_google_ads_version_near_its_sunset_is_a_warning(live_config, capsys, sandbox):
    edit(live_config, "google_ads: {customer_id", "google_ads: {api_version: v23, customer_id")
    assert check(live_config) == 0  # still served: a warning, not a refusal
    captured = capsys.readouterr()
    assert "  ok google_ads: " in captured.out
    (line,) = [ln for ln in captured.err.splitlines() if "api_version" in ln]
    assert (
        line.startswith("warning: sources.google_ads.api_version: v23 sunsets around 2027-01")
        and "v26" in line
    )
    assert sandbox.google_ads.server.requests[-1].path.startswith("/v23/")


def test_a_sunset_google_ads_version_is_refused(live_config, capsys, sandbox):
    edit(live_config, "google_ads: {customer_id", "google_ads: {api_version: v22, customer_id")
    assert check(live_config) == 2
    out = capsys.readouterr().out
    assert "  x google_ads: " in out and "UNSUPPORTED_VERSION" in out  # Google refuses it
    assert "  x sources.google_ads.api_version: v22 was sunset by Google on 2026-10-07" in out


def test_the_default_google_ads_version_is_a_current_one(live_config, capsys, sandbox):
    assert check(live_config) == 0
    assert "api_version" not in capsys.readouterr().err
    assert sandbox.google_ads.server.requests[-1].path.startswith("/v26/")


@pytest.mark.parametrize(
    "version, kind, words",
    [
        ("v22", "error", "v22 was sunset by Google on 2026-10-07"),
        ("v23", "warning", "v23 sunsets around 2027-01"),
        ("v26", None, ""),
        (
            "v99",
            "warning",
            "v99 is not a Google Ads API version this connector knows; supported: v23, "
            "v24, v25, v26",
        ),
    ],
)
def test_google_ads_versions_are_judged_by_their_sunset(version, kind, words):
    from connectors.google_ads.connector import version_notice

    notice = version_notice(version, AS_OF + dt.timedelta(days=1))
    assert (notice or (None, ""))[0] == kind and words in (notice or (None, ""))[1]


def test_a_property_or_ad_account_the_credentials_cannot_reach_is_refused_by_its_setting(
    live_config, capsys
):
    edit(live_config, 'property_id: "123456789"', 'property_id: "987654321"')
    edit(live_config, "ad_account_id: act_1234567890", "ad_account_id: act_1234567899")
    edit(live_config, 'customer_id: "123-456-7890"', 'customer_id: "123-456-7899"')
    assert check(live_config) == 2
    failed = {
        ln.split(":")[0].strip(): ln
        for ln in capsys.readouterr().out.splitlines()
        if ln.startswith("  x ")
    }
    assert set(failed) == {"x ga4", "x meta_ads", "x google_ads"}, failed
    assert "sources.ga4.property_id" in failed["x ga4"]
    assert "sources.meta_ads" in failed["x meta_ads"]
    assert "sources.google_ads.customer_id" in failed["x google_ads"]

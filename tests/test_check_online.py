"""`kpi check --online`: one small request per source against the sandbox over real HTTP."""

import pytest

from kpi_pipeline.cli import main
from tests.conftest import AS_OF


def test_every_source_answers_with_good_credentials(live_config, capsys):
    assert main(["check", "--config", str(live_config), "--online", "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    for source in ("mailchimp", "ga4", "meta_ads", "google_ads", "instagram", "stripe", "calendly", "hubspot",
                   "manual"):
        assert f"  ok {source}: " in out, out
    assert "ok stripe: balance_transactions answered" in out


@pytest.mark.parametrize("variable, source, setting", [
    ("MAILCHIMP_API_KEY", "mailchimp", "sources.mailchimp.api_key"),
    ("STRIPE_API_KEY", "stripe", "sources.stripe.api_key"),
    ("HUBSPOT_TOKEN", "hubspot", "sources.hubspot.token"),
])
def test_a_refused_credential_names_the_source_and_the_setting(live_config, capsys, monkeypatch, variable, source,
                                                               setting):
    wrong = "wrong-secret-value-1234-us1"
    monkeypatch.setenv(variable, wrong)
    assert main(["check", "--config", str(live_config), "--online", "--as-of", AS_OF.isoformat()]) == 2
    captured = capsys.readouterr()
    failed = [line for line in captured.out.splitlines() if line.startswith("  x ")]
    assert len(failed) == 1 and failed[0].startswith(f"  x {source}: ") and setting in failed[0], captured.out
    assert f"error: {source} refused or failed" in captured.err
    assert wrong not in captured.out + captured.err and "  ok ga4: " in captured.out  # the others still checked


def test_an_unreachable_platform_is_a_failure_not_bad_input(live_config, capsys, sandbox):
    sandbox.calendly.server.inject(r".*", status=503, times=100)
    code = main(["check", "--config", str(live_config), "--online", "--as-of", AS_OF.isoformat()])
    out = capsys.readouterr().out
    assert code == 1 and "  x calendly: " in out and "503" in out

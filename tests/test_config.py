"""kpi.yaml validation: every problem named by its YAML path, nothing half-loaded."""

import pytest

from connectors.registry import platforms
from connectors.sandbox import CREDENTIALS
from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import ConfigError, load_config, missing_credentials
from tests.conftest import write_config

BASE = """\
business: Studio Lumen
timezone: Europe/Brussels
history_start: 2025-01-01
demo: false
sources:
  mailchimp: {api_key: "${MC_KEY_FOR_TEST}"}
"""


def test_shipped_kpi_yaml_is_valid_demo_with_targets_for_every_scored_kpi():
    settings = load_config("kpi.yaml")
    assert settings.demo and set(settings.enabled_sources()) == set(
        platforms()
    )  # the demo shows every one
    ids = {k.id for k in settings.kpis() if k.total}
    assert {
        "newsletter_subscribers",
        "website_visitors",
        "ad_cpc",
        "instagram_follower_growth_rate",
    } <= ids
    assert ids == set(settings.targets)


def test_source_blocks_are_validated_per_platform(tmp_path):
    path = write_config(
        tmp_path,
        """\
        business: Studio Lumen
        history_start: 2025-01-01
        sources:
          ga4: {property_id: "G-12345"}
          meta_ads: {ad_account_id: act_12, api_version: "23"}
          google_ads: {customer_id: "123-45", login_customer_id: "x"}
          calendly: {token: t, intro_call_event_types: []}
          manual: {path: data/x.csv, sheet: 2}
        custom_kpis:
          - {id: revenue, label: Clash, domain: sales}
        targets:
          staff_sick_days: {month: 3}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    paths = dict(info.value.problems)
    for where in (
        "sources.ga4.property_id",
        "sources.meta_ads.ad_account_id",
        "sources.meta_ads.api_version",
        "sources.google_ads.customer_id",
        "sources.google_ads.login_customer_id",
        "sources.calendly.intro_call_event_types",
        "sources.manual.sheet",
    ):
        assert where in paths, where
    assert "unknown KPI id" in paths["targets.staff_sick_days"]


def test_a_custom_kpi_may_not_take_a_builtin_id(tmp_path):
    path = write_config(
        tmp_path, BASE + "custom_kpis:\n  - {id: revenue, label: Clash, domain: sales}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert dict(info.value.problems)["custom_kpis.0.id"] == "'revenue' is already a KPI id"


def test_every_problem_is_listed_with_its_path(tmp_path):
    path = write_config(
        tmp_path,
        """\
        business: Studio Lumen
        timezone: Mars/Olympus
        currency: euro
        history_start: 2025-01-01
        schedule: {nightly_at: "25:00"}
        colour: blue
        sources:
          mailchimp: {api_key: x-us6, lookback_days: 0}
          myspace: {token: y}
        targets:
          revenue_of_mars: {month: 3}
          email_open_rate: {month: {default: 0.4, 2026-13: 0.5}, fortnight: 0.3, year: 40}
          newsletter_new_subscribers: {week: lots}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    paths = dict(info.value.problems)
    assert "Mars/Olympus" in paths["timezone"]
    assert "currency" in paths
    assert "schedule.nightly_at" in paths
    assert "colour" in paths
    assert "sources.mailchimp.lookback_days" in paths
    assert "unknown source" in paths["sources.myspace"]
    assert "unknown KPI id" in paths["targets.revenue_of_mars"]
    assert paths["targets.email_open_rate.month.2026-13"] == "not a month (YYYY-MM)"
    assert "unknown grain" in paths["targets.email_open_rate.fortnight"]
    assert "fraction between 0 and 1" in paths["targets.email_open_rate.year"]
    assert paths["targets.newsletter_new_subscribers.week"] == "target must be a number"
    assert str(info.value).count("\n  - ") == len(info.value.problems) >= 11


def test_cli_refuses_an_invalid_file_with_exit_2_and_writes_nothing(tmp_path, capsys):
    path = write_config(tmp_path, BASE + "targets: {email_open_rate: {month: {2026-13: 0.4}}}\n")
    assert main(["sync", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "targets.email_open_rate.month.2026-13: not a month" in err
    assert not (tmp_path / "data").exists() and not (tmp_path / ".dagster").exists()


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write_config(tmp_path, "business: [unclosed\ntimezone: UTC\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(path)


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="--config PATH or set KPI_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_kpi_config_env_and_dotenv(tmp_path, monkeypatch):
    path = write_config(tmp_path, BASE)
    (tmp_path / ".env").write_text("MC_KEY_FOR_TEST=fromdotenv-us6\n")
    monkeypatch.setenv("KPI_CONFIG", str(path))
    monkeypatch.delenv("MC_KEY_FOR_TEST", raising=False)
    settings = load_config()
    assert settings.sources.mailchimp.api_key.get_secret_value() == "fromdotenv-us6"
    assert "fromdotenv-us6" not in repr(settings)


def test_check_reports_missing_credentials_by_path_without_values(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MC_KEY_FOR_TEST", raising=False)
    path = write_config(tmp_path, BASE)
    assert missing_credentials(load_config(path)) == [
        "sources.mailchimp.api_key (${MC_KEY_FOR_TEST} is not set)"
    ]
    assert main(["check", "--config", str(path)]) == 2
    assert "sources.mailchimp.api_key" in capsys.readouterr().err


def test_check_never_prints_a_set_secret(tmp_path, monkeypatch, capsys):
    secret = CREDENTIALS["mailchimp"]["api_key"]
    monkeypatch.setenv("MC_KEY_FOR_TEST", secret)
    path = write_config(tmp_path, BASE)
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr()
    assert secret not in out.out + out.err and secret.split("-")[0] not in out.out + out.err
    assert "credentials: all set" in out.out


def test_sync_without_credentials_is_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MC_KEY_FOR_TEST", raising=False)
    path = write_config(tmp_path, BASE)
    assert main(["sync", "--config", str(path), "--as-of", "2026-11-01"]) == 2
    assert "sources.mailchimp.api_key" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["sync", "--as-of", "2026-02-30"], "--as-of: '2026-02-30' is not a date"),
        (["sync", "--as-of", "2024-06-01"], "before history_start"),
        (["sync", "--as-of", "2099-01-01"], "not a complete day yet"),
        (
            ["sync", "--as-of", "2026-11-01", "--source", "tiktok"],
            "--source: tiktok not in kpi.yaml",
        ),
        (
            ["sync", "--as-of", "2026-11-01", "--start", "2026-10-10", "--end", "2026-10-01"],
            "is after --end",
        ),
        (["sync", "--as-of", "2026-11-01", "--end", "2026-11-05"], "is after as-of"),
        (["report", "--period", "2026-13"], "--period"),
        (["report", "--period", "next month"], "not a week, month, quarter or year"),
    ],
)
def test_bad_command_line_values_exit_2(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("MC_KEY_FOR_TEST", CREDENTIALS["mailchimp"]["api_key"])
    path = write_config(tmp_path, BASE)
    assert main([*argv, "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_report_before_any_sync_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MC_KEY_FOR_TEST", CREDENTIALS["mailchimp"]["api_key"])
    path = write_config(tmp_path, BASE)
    assert main(["report", "--config", str(path)]) == 1
    assert "run `kpi sync` first" in capsys.readouterr().err


def test_catalog_lists_every_kpi_with_its_formula(capsys):
    assert main(["catalog", "--config", "kpi.yaml"]) == 0
    out = capsys.readouterr().out
    for kpi in (
        "newsletter_subscribers",
        "newsletter_new_subscribers",
        "newsletter_unsubscribes",
        "newsletter_net_growth",
        "newsletter_churn_rate",
        "email_open_rate",
        "email_click_rate",
        "email_click_to_open_rate",
        "newsletter_cold_subscriber_share",
    ):
        assert kpi in out
    assert "sum of unique_opens / sum of delivered" in out.lower()


def test_fx_rates_and_the_conversion_window_are_validated_with_their_paths(tmp_path):
    path = write_config(tmp_path, BASE + "fx: {usd: 0.9, GBP: -1}\nconversion_window_days: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = dict(info.value.problems)
    assert "'usd': not a currency code" in problems["fx"]
    assert "conversion_window_days" in problems
    good = write_config(tmp_path, BASE + "fx: {USD: 0.92}\nconversion_window_days: 60\n")
    settings = load_config(good)
    assert settings.fx == {"USD": 0.92} and settings.conversion_window_days == 60
    for bad, word in (("{GBP: -1}", "GBP"), ("{JPY: .nan}", "JPY"), ("{CHF: .inf}", "CHF")):
        with pytest.raises(ConfigError, match=word):
            load_config(write_config(tmp_path, BASE + f"fx: {bad}\n"))


def test_catalog_states_each_kpis_pacing(capsys):
    assert main(["catalog", "--config", "kpi.yaml"]) == 0
    out = capsys.readouterr().out
    assert "paced linearly" in out and "paced by history" in out and "not paced" in out
    assert "final once the 90-day conversion window has passed" in out
    assert "projected by the cohorts that matured" in out and "never missed for want of time" in out


@pytest.mark.parametrize(
    "body, path, words",
    [
        ("business: S\nhistory_start: 2025-13-01\n", "history_start", "date"),
        (
            "business: S\nhistory_start: 2025-01-01\ntargets: {newsletter_new_subscribers: {month: "
            ".nan}}\nsources: {mailchimp: {api_key: k-us6}}\n",
            "targets.newsletter_new_subscribers.month",
            "finite",
        ),
        (
            "business: S\nhistory_start: 2025-01-01\ntargets: {newsletter_new_subscribers: {year: "
            "-.inf}}\nsources: {mailchimp: {api_key: k-us6}}\n",
            "targets.newsletter_new_subscribers.year",
            "finite",
        ),
        (
            "business: S\nhistory_start: 2025-01-01\nstatus: {at_risk_within: .nan}\n",
            "status.at_risk_within",
            "",
        ),
        ("business: S\nhistory_start: 2025-01-01\nfx: {USD: .inf}\n", "fx.USD", "finite"),
        (
            "business: S\nhistory_start: 2025-01-01\nsources: {mailchimp: {api_key: k-us6, "
            "timeout: .inf}}\n",
            "sources.mailchimp.timeout",
            "",
        ),
    ],
)
def test_impossible_values_are_named_by_path_not_a_traceback(tmp_path, capsys, body, path, words):
    config = tmp_path / "kpi.yaml"
    config.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_config(config)
    found = dict(info.value.problems)
    assert path in found and words in found[path]
    assert main(["report", "--config", str(config)]) == 2
    assert f"{path}:" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_a_latin1_file_is_refused_with_its_line_and_how_to_fix_it(tmp_path, capsys):
    config = tmp_path / "kpi.yaml"
    config.write_bytes("business: Caf\u00e9 Lumen\nhistory_start: 2025-01-01\n".encode("latin-1"))
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "line 1: not UTF-8 text (byte 0xe9)" in err and "save the file as UTF-8" in err
    assert "Traceback" not in err
    config.write_bytes(
        "\ufeffbusiness: Caf\u00e9 Lumen\nhistory_start: 2025-01-01\n".encode("utf-8")
    )
    assert load_config(config).business == "Caf\u00e9 Lumen"  # a BOM from Notepad is fine


def test_missing_credentials_come_with_every_other_problem_at_once(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MC_KEY_FOR_TEST", raising=False)
    path = write_config(tmp_path, BASE + "  stripe: {}\ntimezone_typo: 1\n")
    assert main(["sync", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "timezone_typo" in err
    assert "sources.mailchimp.api_key: credential not set (${MC_KEY_FOR_TEST} is not set)" in err
    assert "sources.stripe.api_key: credential not set" in err
    assert not (tmp_path / "data").exists() and not (tmp_path / ".dagster").exists()


def test_a_duplicate_key_is_refused_by_its_line_not_the_last_one_winning(tmp_path, capsys):
    path = write_config(
        tmp_path,
        """\
        business: Studio Lumen
        history_start: 2025-01-01
        currency: EUR
        currency: USD
        sources:
          manual: {path: data/x.csv}
        custom_kpis:
          - {id: treatments_performed, label: Treatments, domain: production, unit: count, unit: ratio}
        """,  # noqa: E501
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert ("currency", "duplicate key 'currency' (line 4; first on line 3)") in info.value.problems
    assert (
        "custom_kpis.0.unit",
        "duplicate key 'unit' (line 8; first on line 8)",
    ) in info.value.problems
    assert main(["sync", "--config", str(path)]) == 2
    assert (
        "  - currency: duplicate key 'currency' (line 4; first on line 3)"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "data").exists() and not (tmp_path / ".dagster").exists()

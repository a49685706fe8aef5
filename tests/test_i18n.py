"""Numbers, money, dates, words and labels in English and Dutch.

Expected values are spelled out literally, never taken from the reporting code.
"""

import datetime as dt

import pandas as pd
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.kpi.scorecard import NOTHING_TO_DIVIDE
from kpi_pipeline.reporting.i18n import DOMAIN_WORDS, STATUS_WORDS, WORDS, Formatter


@pytest.fixture(scope="module")
def settings():
    return load_config("kpi.yaml")


def test_numbers_money_percentages_and_dates_in_dutch_and_english(settings):
    nl, en = Formatter("nl", "EUR"), Formatter("en", "EUR")
    assert nl.number(2475) == "2.475" and en.number(2475) == "2,475"
    assert (
        nl.money(3672.19) == "€\xa03.672,19" and en.money(3672.19) == "€3,672.19"
    )  # a space that never breaks
    assert nl.percent(0.301) == "30,1%" and en.percent(0.301) == "30.1%"
    assert (
        nl.date(dt.date(2026, 11, 29)) == "29 november 2026"
        and en.date(dt.date(2026, 11, 29)) == "29 November 2026"
    )
    assert (
        nl.period("month", dt.date(2026, 11, 1)) == "november 2026"
        and en.period("quarter", dt.date(2026, 7, 1)) == "Q3 2026"
    )
    assert (
        Formatter("en", "USD").money(-12.5) == "-US$12.50"
        and Formatter("nl", "JPY").money(1234) == "JP¥\xa01.234"
    )
    assert (
        en.change(0.1234) == "▲ 12.3%"
        and nl.change(-0.04) == "▼ 4,0%"
        and en.change(0.0) == "= 0.0%"
    )
    for f in (nl, en):
        assert f.number(None) == f.money(float("nan")) == f.percent(pd.NA) == f.change(None) == "–"


def test_whole_counts_stay_whole_and_quotients_keep_two_decimals(settings):
    kpis = {k.id: k for k in settings.kpis()}
    en = Formatter("en", "EUR")
    assert en.of(55.56, kpis["intro_calls"]) == "56"  # a projected count is a whole number too
    assert (
        en.of(1.0166, kpis["orders_per_customer"]) == "1.02"
        and en.of(1.05, kpis["orders_per_customer"]) == "1.05"
    )
    assert (
        en.of(0.29631, kpis["email_open_rate"]) == "29.6%"
        and en.of(136.0666, kpis["average_order_value"]) == "€136.07"
    )
    assert en.target(35, kpis["newsletter_unsubscribes"]) == "at most 35"
    assert Formatter("nl", "EUR").target(35, kpis["newsletter_unsubscribes"]) == "hoogstens 35"


def test_every_word_status_and_domain_has_english_and_dutch():
    for table in (WORDS, STATUS_WORDS, DOMAIN_WORDS):
        for key, words in table.items():
            assert set(words) == {"en", "nl"} and all(words.values()), key
    assert len({w["nl"] for w in STATUS_WORDS.values()}) == len(STATUS_WORDS)  # one word per status


def test_no_data_reasons_are_translated():
    nl = Formatter("nl", "EUR")
    assert nl.reason(NOTHING_TO_DIVIDE) == "geen gegevens: niets om door te delen in deze periode"
    text = nl.reason(
        "source not covered through 2026-11-14: mailchimp, ga4 (failed, stale or not loaded)"
    )
    assert text.startswith(
        "geen gegevens: Mailchimp, Google Analytics niet geladen tot en met 14 nov 2026"
    )


def test_a_custom_kpi_takes_a_label_per_language(tmp_path):
    text = (
        open("kpi.yaml")
        .read()
        .replace(
            "  - {id: treatments_performed, label: Treatments performed,",
            "  - {id: treatments_performed, label: {en: Treatments performed, nl: "
            "Uitgevoerde behandelingen},",
        )
    )
    (tmp_path / "kpi.yaml").write_text(text.replace("language: en", "language: nl"))
    kpi = {k.id: k for k in load_config(tmp_path / "kpi.yaml").kpis()}["treatments_performed"]
    assert (
        kpi.label_in("nl") == "Uitgevoerde behandelingen"
        and kpi.label_in("en") == "Treatments performed"
    )
    (tmp_path / "kpi.yaml").write_text(
        text.replace("label: {en: Treatments performed, nl:", "label: {fr: x, nl:")
    )
    with pytest.raises(Exception, match=r"custom_kpis\.0\.label"):
        load_config(tmp_path / "kpi.yaml")

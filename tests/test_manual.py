"""The hand-kept CSV: bad rows refuse the file whole, naming each line; an edited file replaces the old one."""

import datetime as dt

import pytest

from connectors.errors import ConfigurationError
from connectors.manual import STREAMS, ManualFile
from connectors.streams import StreamContext, Window
from kpi_pipeline.config import load_config
from kpi_pipeline.loading import load_stream
from kpi_pipeline.models import run_models
from kpi_pipeline.warehouse import Warehouse

IDS = ["treatments_performed", "support_tickets_solved", "staff_sick_days"]
CTX = StreamContext("Europe/Brussels", dt.date(2026, 3, 10), None)


def write(tmp_path, text):
    path = tmp_path / "manual.csv"
    path.write_text(text)
    return path


def load(wh, path):
    return load_stream(STREAMS["metrics"], ManualFile(str(path), IDS), Window(dt.date(2026, 3, 1), dt.date(2026, 3, 10)),
                       CTX, wh)


def rows(wh):
    return sorted(wh.query("select date, kpi_id, value, dimension_value from raw.manual__metrics"))


def test_a_file_with_bad_rows_is_refused_whole_naming_each_line(tmp_path):
    wh = Warehouse(":memory:", "b")
    good = write(tmp_path, "date,kpi_id,value\n2026-03-02,treatments_performed,70\n")
    load(wh, good)
    bad = write(tmp_path, "date,kpi_id,value,dimension_value\n"
                          "2026-03-02,treatments_performed,71,\n"
                          "2026-03-32,treatments_performed,5,\n"
                          "2026-03-03,unknown_kpi,5,\n"
                          "2026-03-04,staff_sick_days,lots,\n"
                          "2026-03-05,staff_sick_days,1,a,b\n"
                          "2026-03-02,treatments_performed,72,\n")
    with pytest.raises(ConfigurationError) as info:
        load(wh, bad)
    text = str(info.value)
    assert "line 3: date '2026-03-32' is not YYYY-MM-DD" in text
    assert "line 4: kpi_id 'unknown_kpi' is not one of custom_kpis" in text
    assert "line 5: value 'lots' is not a number" in text
    assert "line 6: expected 4 fields, found 5" in text
    assert "line 7: repeats line 2" in text
    assert rows(wh) == [(dt.date(2026, 3, 2), "treatments_performed", 70.0, "")]  # nothing of it loaded


def test_a_wrong_header_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="line 1: header must be date,kpi_id,value"):
        load(Warehouse(":memory:", "b"), write(tmp_path, "day,kpi,value\n2026-03-02,treatments_performed,1\n"))


def test_a_missing_file_names_the_setting(tmp_path):
    with pytest.raises(ConfigurationError, match="sources.manual.path"):
        load(Warehouse(":memory:", "b"), tmp_path / "nope.csv")


def test_reloading_an_edited_file_replaces_what_the_previous_version_loaded(tmp_path):
    wh = Warehouse(":memory:", "b")
    load(wh, write(tmp_path, "date,kpi_id,value,dimension_value\n2026-03-02,treatments_performed,70,\n"
                             "2026-03-03,support_tickets_solved,9,\n2025-12-01,staff_sick_days,2,\n"))
    load(wh, write(tmp_path, "date,kpi_id,value,dimension_value\n2026-03-02,treatments_performed,75,\n"
                             "2026-03-02,treatments_performed,5,facials\n"))
    assert rows(wh) == [(dt.date(2026, 3, 2), "treatments_performed", 5.0, "facials"),
                        (dt.date(2026, 3, 2), "treatments_performed", 75.0, "")]


def test_custom_kpis_are_aggregated_by_their_declaration(tmp_path):
    settings = load_config("kpi.yaml").model_copy(update={"history_start": dt.date(2026, 1, 1)})
    wh = Warehouse(":memory:", settings.business_id)
    load(wh, write(tmp_path, "date,kpi_id,value,dimension_value\n2026-03-02,treatments_performed,70,\n"
                             "2026-03-09,treatments_performed,80,\n2026-03-09,staff_sick_days,2,\n"))
    run_models(wh, settings, dt.date(2026, 3, 10))
    value = lambda k, g, s: wh.query("select value from kpis.kpi_values where kpi_id = ? and grain = ? and "  # noqa: E731
                                     "period_start = ? and dimension is null", [k, g, s])[0][0]
    assert value("treatments_performed", "month", dt.date(2026, 3, 1)) == 150
    assert value("staff_sick_days", "week", dt.date(2026, 3, 9)) == 2
    assert {k.domain for k in settings.kpis() if k.id in IDS} == {"production", "customer_service", "hr"}

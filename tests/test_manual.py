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


def test_a_wrong_header_is_refused_saying_what_it_is_and_must_be(tmp_path):
    with pytest.raises(ConfigurationError, match=r"line 1: the header is 'datum;kpi;waarde' \(separated by "
                                                 r"semicolons\); it must be date,kpi_id,value or "
                                                 r"date,kpi_id,value,dimension_value in that order"):
        load(Warehouse(":memory:", "b"), write(tmp_path, "datum;kpi;waarde\n2-3-2026;treatments_performed;1\n"))


def test_the_csv_a_dutch_owner_saves_from_excel_loads_as_written(tmp_path):
    wh = Warehouse(":memory:", "b")
    path = tmp_path / "manual.csv"  # Excel "CSV (gescheiden door lijstscheidingsteken)": cp1252, ; and 12,5
    path.write_bytes("date;kpi_id;value;dimension_value\r\n"
                     "2-3-2026;treatments_performed;1.234,5;Caf\u00e9 behandeling\r\n"
                     "02-03-2026;treatments_performed;70;\r\n"
                     "2026-03-03;staff_sick_days;0,5;\r\n"
                     "03-03-2026;support_tickets_solved;-2;\r\n".encode("cp1252"))
    load(wh, path)
    assert rows(wh) == [(dt.date(2026, 3, 2), "treatments_performed", 70.0, ""),
                        (dt.date(2026, 3, 2), "treatments_performed", 1234.5, "Caf\u00e9 behandeling"),
                        (dt.date(2026, 3, 3), "staff_sick_days", 0.5, ""),
                        (dt.date(2026, 3, 3), "support_tickets_solved", -2.0, "")]
    bad = write(tmp_path, "date;kpi_id;value\n2-3-2026;treatments_performed;1.5\n31-2-2026;staff_sick_days;1\n")
    with pytest.raises(ConfigurationError) as info:
        load(wh, bad)
    assert "line 2: value '1.5' is not a number (like 1234,5 in a file separated by semicolons)" in str(info.value)
    assert "line 3: date '31-2-2026' is not YYYY-MM-DD or DD-MM-YYYY" in str(info.value)
    assert len(rows(wh)) == 4  # the refused file changed nothing


def test_rows_that_all_carry_a_dimension_value_warn_that_the_total_has_no_data(tmp_path):
    lines = "".join(f"2026-03-0{1 + i % 9},treatments_performed,{i},room {i}\n" for i in range(100_000))
    path = write(tmp_path, "date,kpi_id,value,dimension_value\n" + lines + "2026-03-02,staff_sick_days,1,\n")
    ctx = StreamContext("Europe/Brussels", dt.date(2026, 3, 10), None)
    result = load_stream(STREAMS["metrics"], ManualFile(str(path), IDS), Window(dt.date(2026, 3, 1),
                                                                                dt.date(2026, 3, 10)), ctx,
                         Warehouse(":memory:", "b"))
    assert result.rows == 100_001
    assert result.warnings == ["manual: treatments_performed: all 100,000 rows carry a dimension_value and none is a "
                               "total, so the KPI's total shows no data; add rows with an empty dimension_value for "
                               "the totals"]


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

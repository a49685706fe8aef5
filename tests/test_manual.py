"""The hand-kept CSV: bad rows refuse the file whole, naming each line;
an edited file replaces the old one."""

import datetime as dt

import pytest

from connectors.errors import ConfigurationError
from connectors.manual.connector import STREAMS, ManualFile
from connectors.streams import StreamContext, Window
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream

IDS = ["treatments_performed", "support_tickets_solved", "staff_sick_days"]
CTX = StreamContext("Europe/Brussels", dt.date(2026, 3, 10), None)


def write(tmp_path, text):
    path = tmp_path / "manual.csv"
    path.write_text(text)
    return path


def load(wh, path):
    return load_stream(
        STREAMS["metrics"],
        ManualFile(str(path), IDS),
        Window(dt.date(2026, 3, 1), dt.date(2026, 3, 10)),
        CTX,
        wh,
    )


def rows(wh):
    return sorted(wh.query("select date, kpi_id, value, dimension_value from raw.manual__metrics"))


def test_a_file_with_bad_rows_is_refused_whole_naming_each_line(tmp_path):
    wh = Warehouse(":memory:", "b")
    good = write(tmp_path, "date,kpi_id,value\n2026-03-02,treatments_performed,70\n")
    load(wh, good)
    bad = write(
        tmp_path,
        "date,kpi_id,value,dimension_value\n"
        "2026-03-02,treatments_performed,71,\n"
        "2026-03-32,treatments_performed,5,\n"
        "2026-03-03,unknown_kpi,5,\n"
        "2026-03-04,staff_sick_days,lots,\n"
        "2026-03-05,staff_sick_days,1,a,b\n"
        "2026-03-02,treatments_performed,72,\n",
    )
    with pytest.raises(ConfigurationError) as info:
        load(wh, bad)
    text = str(info.value)
    assert "line 3: date '2026-03-32' is not YYYY-MM-DD" in text
    assert "line 4: kpi_id 'unknown_kpi' is not one of custom_kpis" in text
    assert "line 5: value 'lots' is not a number" in text
    assert "line 6: expected 4 fields, found 5" in text
    assert "line 7: repeats line 2" in text
    assert rows(wh) == [
        (dt.date(2026, 3, 2), "treatments_performed", 70.0, "")
    ]  # nothing of it loaded


def test_a_wrong_header_is_refused_saying_what_it_is_and_must_be(tmp_path):
    with pytest.raises(
        ConfigurationError,
        match=r"line 1: the header is 'datum;kpi;waarde' \(separated by "
        r"semicolons\); it must be date,kpi_id,value or "
        r"date,kpi_id,value,dimension_value in that order",
    ):
        load(
            Warehouse(":memory:", "b"),
            write(tmp_path, "datum;kpi;waarde\n2-3-2026;treatments_performed;1\n"),
        )


def test_the_csv_a_dutch_owner_saves_from_excel_loads_as_written(tmp_path):
    wh = Warehouse(":memory:", "b")
    path = (
        tmp_path / "manual.csv"
    )  # Excel "CSV (gescheiden door lijstscheidingsteken)": cp1252, ; and 12,5
    path.write_bytes(
        "date;kpi_id;value;dimension_value\r\n"
        "2-3-2026;treatments_performed;1.234,5;Caf\u00e9 behandeling\r\n"
        "02-03-2026;treatments_performed;70;\r\n"
        "2026-03-03;staff_sick_days;0,5;\r\n"
        "03-03-2026;support_tickets_solved;-2;\r\n".encode("cp1252")
    )
    load(wh, path)
    assert rows(wh) == [
        (dt.date(2026, 3, 2), "treatments_performed", 70.0, ""),
        (dt.date(2026, 3, 2), "treatments_performed", 1234.5, "Caf\u00e9 behandeling"),
        (dt.date(2026, 3, 3), "staff_sick_days", 0.5, ""),
        (dt.date(2026, 3, 3), "support_tickets_solved", -2.0, ""),
    ]
    bad = write(
        tmp_path,
        "date;kpi_id;value\n2-3-2026;treatments_performed;1.5\n31-2-2026;staff_sick_days;1\n",
    )
    with pytest.raises(ConfigurationError) as info:
        load(wh, bad)
    assert (
        "line 2: value '1.5' is not a number (like 1234,5 in a file separated by semicolons)"
        in str(info.value)
    )
    assert "line 3: date '31-2-2026' is not YYYY-MM-DD or DD-MM-YYYY" in str(info.value)
    assert len(rows(wh)) == 4  # the refused file changed nothing


def test_rows_that_all_carry_a_dimension_value_warn_that_the_total_has_no_data(tmp_path):
    lines = "".join(
        f"2026-03-0{1 + i % 9},treatments_performed,{i},room {i}\n" for i in range(100_000)
    )
    path = write(
        tmp_path, "date,kpi_id,value,dimension_value\n" + lines + "2026-03-02,staff_sick_days,1,\n"
    )
    ctx = StreamContext("Europe/Brussels", dt.date(2026, 3, 10), None)
    result = load_stream(
        STREAMS["metrics"],
        ManualFile(str(path), IDS),
        Window(dt.date(2026, 3, 1), dt.date(2026, 3, 10)),
        ctx,
        Warehouse(":memory:", "b"),
    )
    assert result.rows == 100_001
    assert result.warnings == [
        "manual: treatments_performed: all 100,000 rows carry a dimension_value and none is a "
        "total, so the KPI's total shows no data; add rows with an empty dimension_value for "
        "the totals"
    ]


def test_a_missing_file_names_the_setting(tmp_path):
    with pytest.raises(ConfigurationError, match="sources.manual.path"):
        load(Warehouse(":memory:", "b"), tmp_path / "nope.csv")


def test_reloading_an_edited_file_replaces_what_the_previous_version_loaded(tmp_path):
    wh = Warehouse(":memory:", "b")
    load(
        wh,
        write(
            tmp_path,
            "date,kpi_id,value,dimension_value\n2026-03-02,treatments_performed,70,\n"
            "2026-03-03,support_tickets_solved,9,\n2025-12-01,staff_sick_days,2,\n",
        ),
    )
    load(
        wh,
        write(
            tmp_path,
            "date,kpi_id,value,dimension_value\n2026-03-02,treatments_performed,75,\n"
            "2026-03-02,treatments_performed,5,facials\n",
        ),
    )
    assert rows(wh) == [
        (dt.date(2026, 3, 2), "treatments_performed", 5.0, "facials"),
        (dt.date(2026, 3, 2), "treatments_performed", 75.0, ""),
    ]


def test_custom_kpis_are_aggregated_by_their_declaration(tmp_path):
    settings = load_config("kpi.yaml").model_copy(update={"history_start": dt.date(2026, 1, 1)})
    wh = Warehouse(":memory:", settings.business_id)
    load(
        wh,
        write(
            tmp_path,
            "date,kpi_id,value,dimension_value\n2026-03-02,treatments_performed,70,\n"
            "2026-03-09,treatments_performed,80,\n2026-03-09,staff_sick_days,2,\n",
        ),
    )
    run_models(wh, settings, dt.date(2026, 3, 10))
    value = lambda k, g, s: wh.query(  # noqa: E731
        "select value from kpis.kpi_values where kpi_id = ? and grain = ? and "
        "period_start = ? and dimension is null",
        [k, g, s],
    )[0][0]
    assert value("treatments_performed", "month", dt.date(2026, 3, 1)) == 150
    assert value("staff_sick_days", "week", dt.date(2026, 3, 9)) == 2
    assert {k.domain for k in settings.kpis() if k.id in IDS} == {
        "production",
        "customer_service",
        "hr",
    }


LOAD = """
import datetime as dt, resource, sys
from connectors.manual.connector import STREAMS, connect
from connectors.streams import StreamContext, Window
from kpi_pipeline.warehouse.loading import load_stream
from kpi_pipeline.warehouse.database import Warehouse
ids = ["treatments_performed", "support_tickets_solved", "staff_sick_days"]
result = load_stream(STREAMS["metrics"], connect({"path": sys.argv[1], "kpi_ids": ids}),
                     Window(dt.date(2026, 1, 1), dt.date(2026, 3, 10)),
                     StreamContext("Europe/Brussels", dt.date(2026, 3, 10), None), Warehouse(sys.argv[2], "b"),
                     progress=lambda line: None)
print(result.rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # rows, own peak in MB
"""  # noqa: E501


def test_a_csv_of_a_million_rows_loads_in_bounded_memory(tmp_path):
    """50 MB of CSV (1.2 M rows) once took 3.3 GB: it is read,
    checked and staged a page at a time."""
    import subprocess
    import sys

    path = tmp_path / "big.csv"
    days = [(dt.date(2025, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(400)]
    with path.open("w") as out:
        out.write("date,kpi_id,value,dimension_value\n")
        for room in range(1000):
            for kpi in IDS:
                out.write("".join(f"{day},{kpi},{room % 97}.5,room {room}\n" for day in days))
    assert path.stat().st_size > 50_000_000
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(path), str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
        check=True,
    )
    rows, peak_mb = map(
        int, done.stdout.splitlines()[-1].split()
    )  # (DuckDB may draw its progress bar before)
    assert rows == 1_200_000
    # the load's own peak: RUSAGE_CHILDREN would report the largest child this test worker ever had
    # 0.35 GB on a disk, 0.73 GB with the files in /dev/shm (make test: tmpfs pages count in the
    # load's resident set); 1.6 GB on a disk before pages (3.3 GB with the file)
    assert peak_mb < 1100, f"a 1.2 M-row CSV peaked at {peak_mb:.0f} MB"


def test_pages_say_how_much_of_the_file_is_read_up_to_all_of_it(tmp_path):
    """Progress of a file is the share of its bytes read,
    so it ends at 100% (not "12%" by its dates)."""
    path = write(
        tmp_path,
        "date,kpi_id,value\n" + "".join(f"2026-03-0{d},{k},1\n" for d in range(1, 8) for k in IDS),
    )
    done = [page.done for page in ManualFile(str(path), IDS).pages(rows_per_page=5)]
    assert len(done) == 5 and done == sorted(done) and done[-1] == 1.0


def test_a_file_mixing_utf8_and_windows_1252_is_refused_naming_the_line(tmp_path):
    """Decoding it either way garbles one part ("CafÃ©"): the owner is told which line to retype."""
    wh = Warehouse(":memory:", "b")
    path = tmp_path / "manual.csv"
    path.write_bytes(
        "date,kpi_id,value,dimension_value\n2026-03-02,treatments_performed,1,Caf\u00e9\n".encode()
        + "2026-03-03,treatments_performed,2,\n2026-03-04,treatments_performed,3,Th\u00e9\n".encode(
            "cp1252"
        )
    )
    with pytest.raises(ConfigurationError) as info:
        load(wh, path)
    assert (
        "line 4: byte 0xe9 is not UTF-8, but line 2 is UTF-8 text: the file mixes two encodings"
        in str(info.value)
    )
    assert rows(wh) == []
    path.write_bytes(path.read_bytes().replace("Th\u00e9".encode("cp1252"), "Th\u00e9".encode()))
    load(wh, path)
    assert {r[3] for r in rows(wh)} == {"Caf\u00e9", "", "Th\u00e9"}


def test_a_utf16_file_is_refused_saying_what_it_is(tmp_path):
    path = tmp_path / "manual.csv"
    path.write_bytes(
        "date\tkpi_id\tvalue\r\n2026-03-02\ttreatments_performed\t1\r\n".encode("utf-16")
    )
    with pytest.raises(ConfigurationError) as info:
        load(Warehouse(":memory:", "b"), path)
    text = str(info.value)
    assert "a UTF-16 file" in text and 'save the file as "CSV UTF-8"' in text
    assert "\x00" not in text and "\\x00" not in text


def test_dates_after_the_last_day_are_refused_and_before_history_start_said(tmp_path, monkeypatch):
    """2062 for 2026 is refused by its line; 1999 is said (history_start may have moved later)."""
    from connectors.manual.connector import connect
    from kpi_pipeline.sources.windows import source_settings

    monkeypatch.setenv("KPI_TODAY", "2026-03-11")  # the platforms' today: a row of today is in
    (tmp_path / "kpi.yaml").write_text(
        "business: B\nhistory_start: 2026-01-01\ndemo: false\nsources:\n  manual: {path: "
        "manual.csv}\ncustom_kpis:\n  - {id: treatments_performed, label: Treatments, domain: "
        "production}\n"
    )
    settings = load_config(tmp_path / "kpi.yaml")
    csv = tmp_path / "manual.csv"
    csv.write_text(
        "date,kpi_id,value\n2026-03-02,treatments_performed,70\n2062-03-02,treatments_performed,71\n"
        "2026-03-11,treatments_performed,72\n2026-03-12,treatments_performed,73\n"
    )
    wh = Warehouse(":memory:", "b")

    def sync(as_of):
        client = connect(source_settings(settings, "manual", as_of))
        return load_stream(
            STREAMS["metrics"],
            client,
            Window(dt.date(2026, 1, 1), as_of),
            StreamContext("Europe/Brussels", as_of, None),
            wh,
        )

    with pytest.raises(ConfigurationError) as info:
        sync(dt.date(2026, 3, 10))
    text = str(info.value)
    assert (
        "line 3: date 2062-03-02 is after 2026-03-11, and custom KPIs have "
        "no numbers for days to come" in text
    )
    assert "line 5: date 2026-03-12 is after 2026-03-11" in text and "line 4" not in text
    csv.write_text(
        "date,kpi_id,value\n2026-03-02,treatments_performed,70\n1999-03-02,treatments_performed,71\n"
        "2026-03-11,treatments_performed,72\n"
    )
    result = sync(dt.date(2026, 2, 1))  # a back-dated run takes the file a nightly takes
    assert result.rows == 3
    assert result.warnings == [
        "manual: 1 row(s) dated before history_start (2026-01-01) count in no KPI: line 3; "
        "check the dates if they are typos"
    ]

"""The sabotages `make prove` applies, one at a time, to a scratch copy of the code.

Each breaks one guarantee of the README's "Reliability and security" table on purpose; the tests
named beside it must then fail. ``edits`` are (file, exact text, sabotaged text): the text must be
found exactly once, so a sabotage that no longer applies is reported, not silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sabotage:
    guarantee: str  # the guarantee, as the README's table names it (shortened)
    name: str  # what was broken, in a few words (the README's "sabotage" column)
    edits: tuple[tuple[str, str, str], ...]
    tests: tuple[str, ...]  # pytest node ids that must fail
    env: tuple[tuple[str, str], ...] = ()  # settings for the sabotaged run only (a shorter wait)


SABOTAGES = (
    Sabotage(
        "A routine sync after a gap fetches the days it missed",
        "a routine sync fetching its lookback only",
        (
            (
                "kpi_pipeline/sources/windows.py",
                "first = min(first, loaded_until + dt.timedelta(days=1))",
                "pass",
            ),
        ),
        (
            "tests/test_catch_up.py::test_the_sync_after_a_gap_loads_every_day_since_the_last_load",
            "tests/test_catch_up.py::test_the_month_inside_the_gap_scores_as_the_world_counts_it",
        ),
    ),
    Sabotage(
        "Loads are atomic with their record in raw._loads",
        "no transaction: delete, insert and record each committed alone",
        (
            (
                "kpi_pipeline/warehouse/raw_loads.py",
                'con.execute("begin transaction")\n            if date_range',
                "pass\n            if date_range",
            ),
            (
                "kpi_pipeline/warehouse/raw_loads.py",
                'fault_point("load:before_commit")\n            con.execute("commit")',
                'fault_point("load:before_commit")',
            ),
        ),
        (
            "tests/test_warehouse.py::test_a_load_failing_between_its_delete_insert_and_record_leaves_the_old_rows_and_no_record",
            "tests/test_warehouse.py::test_a_load_killed_between_its_delete_insert_and_record_leaves_the_old_rows_and_no_record",
        ),
    ),
    Sabotage(
        "A killed sync leaves the old or the new published copy",
        "publish copies straight onto analytics.duckdb (no temp file, no rename)",
        (
            (
                "kpi_pipeline/warehouse/published.py",
                "write_analyst_copy(source, tmp,",
                "write_analyst_copy(source, target,",
            ),
            ("kpi_pipeline/warehouse/published.py", "os.replace(tmp, target)", "pass"),
        ),
        (
            "tests/test_published_copy.py::test_a_publish_killed_during_its_copy_leaves_the_old_copy_whole",
        ),
    ),
    Sabotage(
        "A publish flushes the new copy to the disk before the rename",
        "no fsync of the copy",
        (("kpi_pipeline/warehouse/analyst_file.py", "        os.fsync(written.fileno())\n", ""),),
        (
            "tests/test_published_copy.py::test_publish_flushes_the_copy_before_the_rename_and_the_folder_after",
        ),
    ),
    Sabotage(
        "An analyst's unsaved writes to analytics.duckdb are kept aside",
        "the analyst's .wal left beside the new copy",
        (
            (
                "kpi_pipeline/warehouse/published.py",
                "kept = keep_analyst_writes(target)",
                "kept = None",
            ),
        ),
        (
            "tests/test_published_copy.py::test_an_analysts_unsaved_writes_are_kept_aside_and_the_new_copy_opens",
        ),
    ),
    Sabotage(
        "An analyst's writes closed cleanly into analytics.duckdb are kept aside",
        "only a .wal counts as an analyst's writes",
        (
            (
                "kpi_pipeline/warehouse/published.py",
                "if not wal.exists() and not written_since_published(target):",
                "if not wal.exists():",
            ),
        ),
        (
            "tests/test_published_copy.py::test_an_analysts_writes_closed_cleanly_are_kept_aside_too",
        ),
    ),
    Sabotage(
        "A publish failing after its rename does not take its own copy for an analyst's",
        "the new copy recorded only after the rename",
        (("kpi_pipeline/warehouse/published.py", "record_published(target, coming=tmp)", "pass"),),
        (
            "tests/test_published_copy.py::test_a_publish_failing_after_its_rename_is_not_taken_for_an_analysts_writes",
        ),
    ),
    Sabotage(
        "An analyst's writes to the portfolio copy are kept aside",
        "the portfolio copy renamed over an analyst's file",
        (
            (
                "kpi_pipeline/portfolio/copy.py",
                "        kept = keep_analyst_writes(target)",
                "        kept = None",
            ),
        ),
        (
            "tests/test_portfolio_copy.py::test_an_analysts_writes_to_the_portfolio_copy_are_kept_aside_saved_or_not",
        ),
    ),
    Sabotage(
        "A failed publish leaves no temp file",
        "the partial copy left behind",
        (
            (
                "kpi_pipeline/warehouse/published.py",
                "tmp.unlink(missing_ok=True)  # never leave",
                "pass  # never leave",
            ),
        ),
        (
            "tests/test_published_copy.py::test_a_publish_failing_half_way_through_its_copy_says_why_and_leaves_no_temp_file",
        ),
    ),
    Sabotage(
        "A sync waiting for the pool names the run holding it",
        "the writing assets in no pool",
        (
            (
                "kpi_pipeline/config/settings.py",
                'return f"{WRITER_POOL}_{self.slug}" if self.slug else WRITER_POOL',
                "return None",
            ),
        ),
        ("tests/test_recovery.py::test_a_sync_waiting_for_the_pool_names_the_holder_and_gives_up",),
    ),
    Sabotage(
        "Strings stay text in the Markdown scorecard (Dagster's metadata)",
        "Markdown table cells not escaped",
        (
            (
                "kpi_pipeline/reporting/markdown.py",
                '" | ".join(md_escape(x) for x in cells)',
                '" | ".join(cells)',
            ),
        ),
        (
            "tests/test_scorecard_formats.py::test_a_hostile_kpi_label_stays_text_in_the_markdown_the_dagster_ui_shows",
        ),
    ),
    Sabotage(
        "A killed sync never blocks the next",
        "runs whose process is gone left STARTED, their pool slot held",
        (
            (
                "kpi_pipeline/orchestration/instance_state.py",
                "if state.run_id == own_run or not (state.alive is False or told):",
                "if True:",
            ),
        ),
        ("tests/test_recovery.py::test_a_sync_killed_while_loading_is_repaired_by_the_next",),
        (("KPI_POOL_WAIT", "20"),),  # the next sync waits for the dead run's slot: 20 s, not 900
    ),
    Sabotage(
        "An upgrade of Dagster never breaks the instance",
        "our event log on any Dagster version",
        (
            (
                "kpi_pipeline/orchestration/dagster_private.py",
                "            if tested():\n                return _batched_storage_class()",
                "            if True:\n                return _batched_storage_class()",
            ),
        ),
        (
            "tests/test_dagster_private.py::test_an_untested_dagster_reads_an_instance_naming_ours_with_its_stock_storage_and_one_warning",
        ),
    ),
    Sabotage(
        "A program holding warehouse.duckdb is named once with its PID",
        "DuckDB's lock error passed on raw",
        (
            (
                "kpi_pipeline/warehouse/storage.py",
                'return lock_message(path, holder["program"], holder["pid"])',
                "return None",
            ),
        ),
        (
            "tests/test_storage_problems.py::test_a_reader_on_the_pipelines_own_warehouse_is_named_once",
        ),
    ),
    Sabotage(
        "Every API fault ends retried and correct",
        "Retry-After ignored (backoff instead)",
        (
            (
                "connectors/http.py",
                "        if error.retry_after is not None:\n            return "
                "float(error.retry_after)\n",
                "",
            ),
        ),
        ("tests/test_contract.py::test_429_with_retry_after_waits_as_told_then_succeeds",),
    ),
    Sabotage(
        "A required metric missing from every record is refused",
        "a renamed metric loaded as NULLs",
        (
            (
                "kpi_pipeline/warehouse/loading.py",
                "if rows and unseen:  # raised",
                "if False:  # raised",
            ),
        ),
        (
            "tests/test_fault_cases.py::test_a_field_missing_from_every_record_fails_naming_stream_and_field",
        ),
    ),
    Sabotage(
        "Every bad kpi.yaml exits 2 and writes nothing",
        "a bad kpi.yaml exits 1",
        (
            (
                "kpi_pipeline/cli/main.py",
                '    except ConfigError as err:\n        print(f"error: {err}", file=sys.stderr)\n'
                "        return BAD_INPUT\n",
                '    except ConfigError as err:\n        print(f"error: {err}", file=sys.stderr)\n'
                "        return 1\n",
            ),
        ),
        ("tests/test_config.py::test_cli_refuses_an_invalid_file_with_exit_2_and_writes_nothing",),
    ),
    Sabotage(
        "No credential is printed, logged or stored",
        "a secret's base64 and its pieces not redacted",
        (
            (
                "connectors/redaction.py",
                'forms |= {core, core.translate(_URLSAFE), quote(core, safe="")}',
                "pass",
            ),
            (
                "connectors/redaction.py",
                "if windowed and len(form) >= MIN_RUN",
                "if False and len(form) >= MIN_RUN",
            ),
        ),
        (
            "tests/test_http.py::test_redaction_of_a_secret_echoed_re_encoded_or_in_part",
            "tests/test_secrets.py::test_an_api_that_echoes_credentials_re_encoded_leaks_none_of_their_forms",
        ),
    ),
    Sabotage(
        "A refused CSV is bad input and keeps the last good file's rows",
        "a CSV's bad lines skipped, the rest loaded",
        (
            (
                "connectors/manual/connector.py",
                '        if problems:\n            named = [f"line {number}: {why}"',
                '        if False:\n            named = [f"line {number}: {why}"',
            ),
        ),
        (
            "tests/test_recovery.py::test_a_refused_csv_is_bad_input_and_the_other_sources_still_load",
        ),
    ),
    Sabotage(
        "A KPI is blanked only by the streams it reads",
        "coverage by every stream of the KPI's platforms, not its lineage",
        (
            (
                "kpi_pipeline/kpi/lineage.py",
                "tables = set(lineage.get(kpi.id, ()))",
                "tables = set()",
            ),
        ),
        (
            "tests/test_coverage_per_input.py::test_a_failing_invitees_stream_does_not_blank_intro_calls",
        ),
    ),
    Sabotage(
        "The analysts' copies open in DuckDB 1.4 and later",
        "the copies written in DuckDB 2.0's default storage version",
        (
            (
                "kpi_pipeline/warehouse/analyst_file.py",
                ' (storage_version {_text(STORAGE_VERSION)})"',
                '"',
            ),
        ),
        (
            "tests/test_analyst_file.py::test_duckdb_1_4_opens_both_published_copies_and_their_views",
        ),
    ),
    Sabotage(
        "A new warehouse is in DuckDB 1.4's storage version and published byte for byte",
        "the warehouse created in DuckDB 2.0's default storage version",
        (
            (
                "kpi_pipeline/warehouse/database.py",
                "                create_readable(self.path)",
                "                pass",
            ),
        ),
        (
            "tests/test_fast_publish.py::"
            "test_a_new_warehouse_is_in_1_4_storage_and_is_published_byte_for_byte",
        ),
    ),
)

# kpi-pipeline: every target creates .venv when it is missing.
PY      := .venv/bin/python
STAMP   := .venv/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: demo demo-portfolio lint test test-random test-reverse prove ui ui-portfolio bench bench-portfolio clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/kpi demo

# five sandbox businesses in portfolio-demo/ (a process each, two at a time), then the portfolio view;
# their runs go to the portfolio's own instance (the one make ui-portfolio opens), never to .dagster
demo-portfolio: export DAGSTER_HOME = $(CURDIR)/portfolio-demo/.dagster
demo-portfolio: $(STAMP)
	.venv/bin/kpi demo --businesses 5 --dir portfolio-demo

# --no-loadscope-reorder: xdist would otherwise hand out files by their number of tests, not in the
# slowest-first order tests/conftest.py sets (SLOW_MODULES).
# Test files live in memory when /dev/shm has room: Dagster's SQLite event log and DuckDB sync
# to disk on every commit, and on a disk that is most of a test's time.
SHM_FREE := $(shell [ -w /dev/shm ] && df -Pk /dev/shm | awk 'NR==2 {print $$4}')
TEST_TMP := $(if $(shell [ "$(SHM_FREE)" -gt 4000000 ] 2>/dev/null && echo y),/dev/shm/kpi-tests-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1))

# `make test` runs in one known order (SLOW_MODULES first), so CI's result never depends on a
# draw. test-random shuffles files and tests (pytest-randomly; the seed is printed at the end) and
# test-reverse runs them backwards: the suite passes in any order (issue 22). Repeat an order with
# its seed: make test-random SEED=1234
TEST_ARGS := -q -n 3 --dist loadfile --no-loadscope-reorder $(if $(TEST_TMP),--basetemp=$(TEST_TMP))

# lint (ruff) and types (mypy on kpi_pipeline/ and definitions.py, as pyproject.toml says), before the tests
lint: $(STAMP)
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/mypy

test: lint
	$(PY) -m pytest $(TEST_ARGS) -p no:randomly && rm -rf $(TEST_TMP)

test-random: $(STAMP)
	$(PY) -m pytest $(TEST_ARGS) --order=random $(if $(SEED),--randomly-seed=$(SEED)) && rm -rf $(TEST_TMP)

test-reverse: $(STAMP)
	$(PY) -m pytest $(TEST_ARGS) -p no:randomly --order=reverse && rm -rf $(TEST_TMP)

# break each guarantee of the README's table on purpose (prove/sabotages.py) in a scratch copy and
# check that its tests fail; prints guarantee | sabotage | test | caught
prove: $(STAMP)
	$(PY) prove/run.py

ui: export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS = 1  # backfills plan one event per asset (README)
ui: export DAGSTER_EVENT_BATCH_SIZE = 1000  # a range's materializations written in one transaction (README)
ui: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	$(PY) -m kpi_pipeline.cli init-instance
	.venv/bin/dagster dev -h 127.0.0.1 -p 3000 -w $(DAGSTER_HOME)/workspace.yaml  # the location named after the business

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) bench/run.py

# the portfolio demo's instance: a code location per business (make demo-portfolio first)
ui-portfolio: export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS = 1
ui-portfolio: export DAGSTER_EVENT_BATCH_SIZE = 1000
ui-portfolio: export DAGSTER_HOME = $(CURDIR)/portfolio-demo/.dagster
ui-portfolio: $(STAMP)
	cd portfolio-demo && ../.venv/bin/kpi init-instance
	.venv/bin/dagster dev -h 127.0.0.1 -p 3000 -w portfolio-demo/.dagster/workspace.yaml

# only the portfolio's scale (1, 10, 100 businesses on SQLite and PostgreSQL; about an hour here)
bench-portfolio: $(STAMP)
	$(PY) bench/portfolio.py

clean:
	rm -rf .venv .dagster data/warehouse.duckdb* data/analytics.duckdb data/reports portfolio-demo

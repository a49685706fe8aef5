# kpi-pipeline: every target creates .venv when it is missing.
PY      := .venv/bin/python
STAMP   := .venv/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: demo test ui bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/kpi demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

ui: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	$(PY) -m kpi_pipeline.cli init-instance
	.venv/bin/dagster dev -h 127.0.0.1 -p 3000 -w $(DAGSTER_HOME)/workspace.yaml  # the location named after the business

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf .venv .dagster data/warehouse.duckdb* data/analytics.duckdb data/reports

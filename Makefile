# Value View analytics. `make help` lists the targets; each one works as the first command on a
# fresh clone: it creates .venv and installs what it needs when missing.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCALE ?= 1
SEED ?= 42
VV := $(BIN)/value-view
# Superset lives in a virtual environment of its own: its Flask/SQLAlchemy pins never touch .venv.
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed
BI_PORT ?= 8088
BI_PACKAGES := apache-superset rich cachetools flask-caching psycopg2-binary
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`: the modules marked `serial` run after them, alone
TEST_WORKERS ?= 2

.PHONY: help install demo test pytest lint fix clean ui chromium pgbouncer bench db-start db-stop bi bi-install bi-stop

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "; printf "Value View analytics\n\nTargets:\n"} \
	     /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@printf "\nVariables: SCALE=$(SCALE) SEED=$(SEED) (demo data), PYTEST_ARGS, TEST_WORKERS=$(TEST_WORKERS)\n"

$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies

$(BI_STAMP): constraints-bi.txt
	@test -d $(BI_VENV) || $(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BI_VENV)/bin/python -m pip install --quiet -c constraints-bi.txt $(BI_PACKAGES)
	@touch $(BI_STAMP)

bi-install: $(BI_STAMP) ## Install Apache Superset into .venv-bi (constraints-bi.txt)

bi: $(STAMP) $(BI_STAMP) ## Superset on the marts at 127.0.0.1:BI_PORT: a Value View dashboard and a viewer per tenant (after make demo)
	$(VV) bi start --port $(BI_PORT)

bi-stop: $(STAMP) ## Stop Superset
	$(VV) bi stop

demo: $(STAMP) ## Embedded server + demo data at SCALE + the whole pipeline + a summary table
	$(VV) demo --scale $(SCALE) --seed $(SEED)

ui: $(STAMP) ## Dagster UI (webserver + daemon) on 127.0.0.1:3000
	$(VV) ui

bench: $(STAMP) ## Benchmark: marts vs raw queries, refresh costs, reads under refresh, scaling, throughput
	$(VV) bench --scale $(SCALE)

test: $(STAMP) $(BI_STAMP) chromium pgbouncer ## Everything CI runs: make lint (ruff, sqlfluff, dbt-score, dbt-bouncer), then pytest on a real server (TEST_WORKERS in parallel, then the serial modules)
	$(MAKE) --no-print-directory lint
	@# exit status 5: PYTEST_ARGS selected no test of that part
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not serial" $(PYTEST_ARGS) || test $$? -eq 5
	$(BIN)/pytest -m serial $(PYTEST_ARGS) || test $$? -eq 5

pytest: $(STAMP) ## Only the pytest suites
	$(BIN)/pytest $(PYTEST_ARGS)

chromium: ## Headless Chromium for the Dagster UI screenshot test (apt-get when missing)
	command -v chromium || (apt-get update && apt-get install -y chromium)

pgbouncer: ## PgBouncer for `value-view pooler` and its tests (apt-get when missing)
	command -v pgbouncer || test -x /usr/sbin/pgbouncer || (apt-get update && apt-get install -y pgbouncer)

# The dbt linters read the manifest of a `dbt parse` (no database needed) in a target of their
# own; dbt-bouncer's catalog checks need a built database and run in tests_py/test_dbt_linters.py.
LINT_TARGET := target/lint

lint: $(STAMP) ## sqlfluff (postgres) on models, analyses and tests; ruff on Python; dbt-score and dbt-bouncer on the dbt project
	$(BIN)/ruff check orchestration tests_py
	$(BIN)/ruff format --check orchestration tests_py
	$(BIN)/sqlfluff lint models analyses tests --processes 2
	$(BIN)/dbt parse --profiles-dir . --project-dir . --target-path $(LINT_TARGET) --quiet
	$(BIN)/dbt-score lint --manifest $(LINT_TARGET)/manifest.json
	$(BIN)/dbt-bouncer run --config-file dbt-bouncer.yml --only manifest_checks

fix: $(STAMP) ## Apply sqlfluff and ruff fixes, then report what the dbt linters still find
	$(BIN)/ruff check --fix orchestration tests_py
	$(BIN)/ruff format orchestration tests_py
	$(BIN)/sqlfluff fix models analyses tests --processes 2
	$(BIN)/dbt parse --profiles-dir . --project-dir . --target-path $(LINT_TARGET) --quiet
	$(BIN)/dbt-score lint --manifest $(LINT_TARGET)/manifest.json
	$(BIN)/dbt-bouncer run --config-file dbt-bouncer.yml --only manifest_checks

db-start: $(STAMP) ## Start (or reuse) the embedded PostgreSQL
	$(VV) db start

db-stop: $(STAMP) ## Stop the embedded PostgreSQL
	$(VV) db stop

clean: ## Stop Superset and the embedded server and remove build output (keeps .venv and .venv-bi)
	-@test -x $(VV) && $(VV) bi stop
	-@test -x $(VV) && $(VV) db stop
	rm -rf .value_view target logs artifacts .pytest_cache .ruff_cache

# Every task is one command. The first `make` creates .venv and installs the project into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Test processes at once, each with its own embedded PostgreSQL (or its own databases on
# DATABASE_URL's server): the tests wait on the database more than they compute.
TEST_WORKERS ?= 2
RUN_ARGS ?=

.PHONY: setup run test lint fmt bench clean

# The console's htmx and its SSE extension, from the npm registry at the versions and hashes
# src/switchboard/console/vendor.json pins (docs/operations.md); nothing to do once installed.
setup: $(VENV)/.installed
	$(BIN)/python -m switchboard.vendor

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/switchboard run $(RUN_ARGS)

test: setup
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/squawk --config .squawk.toml migrations/*.sql

fmt: setup
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: setup
	$(BIN)/python bench/migrate_large.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/pool_check.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Keel's two commands for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install services lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The venv with Keel and its dev extras; re-run when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/keel demo --home keel-demo

# PostgreSQL and Redis: used when running, installed and started when not; Debian's Chromium.
services:
	bash scripts/services.sh
	bash scripts/browser.sh

test: install services
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: install services
	$(BIN)/python bench/catalog_bench.py
	$(BIN)/python bench/ui_bench.py
	$(BIN)/python bench/audit_bench.py
	$(BIN)/python bench/pipeline_bench.py
	$(BIN)/python bench/guard_bench.py
	$(BIN)/python bench/readiness_bench.py
	$(BIN)/python bench/notifications_bench.py
	$(BIN)/python bench/incidents_bench.py

clean:
	rm -rf $(VENV) keel-demo .pytest_cache .ruff_cache .hypothesis

# `make run` and `make test` work on a fresh clone: they install what they need.
# With DATABASE_URL unset they use an embedded PostgreSQL under .local/ (see README).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export DJANGO_SETTINGS_MODULE := settings
export DEBUG ?= 1

# pipenv from the machine if it has one, else a private copy under .local/tools.
PIPENV := $(shell command -v pipenv 2>/dev/null || echo .local/tools/bin/pipenv)

.PHONY: help install db db-stop migrate demo run test lint schema bench bench-webhooks clean

help:
	@echo "make run     install, migrate, load demo data, serve http://127.0.0.1:8000/graphql + worker"
	@echo "make test    install, lint and run the whole test suite"
	@echo "make schema  regenerate schema.graphql after changing the API"
	@echo "make bench   run the benchmarks under devops/bench"
	@echo "make db-stop stop the embedded PostgreSQL"

.local/tools/bin/pipenv:
	$(PYTHON) -m venv .local/tools
	.local/tools/bin/pip install --quiet pipenv

$(VENV)/.synced: Pipfile.lock | $(PIPENV)
	$(PIPENV) sync --dev
	touch $@

install: $(VENV)/.synced

# Start the embedded server unless DATABASE_URL points elsewhere.
db: install
	@if [ -z "$${DATABASE_URL:-}" ]; then \
		echo "DATABASE_URL unset: using the embedded PostgreSQL in .local/pg"; \
		$(PY) devops/scripts/embedded_db.py start >/dev/null; \
	fi

db-stop: install
	$(PY) devops/scripts/embedded_db.py stop

migrate: db
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	devops/scripts/run.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint db
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

schema: install
	$(PY) manage.py export_schema api.schema:schema --path schema.graphql

# Benchmarks print figures and assert nothing. race_http.py needs a running server: see it.
bench: migrate
	$(PY) devops/bench/run.py
	$(PY) devops/bench/freetime.py
	$(PY) devops/bench/freetime_db.py

# 1,000 webhook deliveries through a real worker to a loopback receiver; deliveries per second.
bench-webhooks: migrate
	$(PY) devops/bench/webhooks.py --count 1000

clean:
	rm -rf $(VENV) .local/tools .pytest_cache .ruff_cache staticfiles

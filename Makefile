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

.PHONY: help install db db-stop migrate demo run test lint schema bench clean graphiql examples tui http-audit backup restore stack stack-check bench-webhooks

help:
	@echo "make run     install, migrate, load demo data, serve http://127.0.0.1:8000/graphql + worker"
	@echo "make test    install, lint and run the whole test suite"
	@echo "make schema  regenerate schema.graphql after changing the API"
	@echo "make examples run the client kits in examples/ against a fresh server"
	@echo "make bench   run the benchmarks under devops/bench"
	@echo "make http-audit URL=...  graphql-http's GraphQL-over-HTTP audit against a running server"
	@echo "make db-stop stop the embedded PostgreSQL"
	@echo "make tui     the terminal client (ARGS=\"--url ... login\"; see README, Terminal client)"
	@echo "make stack   the production stack natively: nginx, gunicorn, worker, PostgreSQL, Redis, mail"
	@echo "make stack-check  start it, check it end to end, stop it"
	@echo "make backup  pg_dump the database into backups/ (make restore BACKUP=file puts it back)"

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

run: demo graphiql
	$(PY) manage.py collectstatic --noinput --verbosity 0
	devops/scripts/run.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint db graphiql
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

schema: install
	$(PY) manage.py export_schema api.schema:schema --path schema.graphql

# Benchmarks print figures and assert nothing. race_http.py needs a running server: see it.
# The perf ones use scratch databases next to DATABASE_URL's (<name>_bench*), write JSON to
# devops/bench/results/ and charts.py draws it to devops/bench/results/bench.png.
BENCH_SECONDS ?= 20
SWEEP_SIZES ?= 10000 100000 1000000
bench: migrate
	$(PY) devops/bench/run.py
	$(PY) devops/bench/freetime.py
	$(PY) devops/bench/freetime_db.py
	$(PY) devops/bench/sweep.py $(SWEEP_SIZES)
	$(PY) devops/bench/history.py
	$(PY) devops/bench/booking_http.py $(BENCH_SECONDS)
	$(PY) devops/bench/profile_create.py 300
	$(PY) devops/bench/profile_slots.py 300 --profile
	$(PY) devops/bench/expansion.py
	$(PY) devops/bench/subscriptions.py
	$(PY) devops/bench/charts.py

# GraphiQL's React, ReactDOM and GraphiQL files, served by the server itself (no CDN): copied
# from devops/graphiql's pinned npm packages (package-lock.json), never committed.
GRAPHIQL_VENDOR := api/static/api/graphiql/vendor
graphiql: $(GRAPHIQL_VENDOR)/versions.json

$(GRAPHIQL_VENDOR)/versions.json: devops/graphiql/package.json devops/graphiql/package-lock.json devops/graphiql/collect.mjs
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm not found: GraphiQL's files are not built (install Node.js >= 18 and npm)"; \
	else \
		cd devops/graphiql && npm ci --no-audit --no-fund --loglevel=error \
			&& node collect.mjs ../../$(GRAPHIQL_VENDOR); \
	fi

# The client kits (Postman/Newman, TypeScript from GraphQL Code Generator, Python gql) against a
# fresh server and database of their own: see examples/run.py.
examples: install db
	cd examples && npm ci --no-audit --no-fund --loglevel=error
	$(PY) examples/run.py
# The terminal client (examples/tui): a prompt against a running server, over GraphQL only.
tui: install
	@PYTHONPATH=examples/tui $(PY) -m rendezvous_tui $(ARGS)
# graphql-http's GraphQL-over-HTTP audit suite against a running server (make run first).
URL ?= http://127.0.0.1:8000/graphql
http-audit:
	npm ci --prefix devops/http-audit --no-audit --no-fund
	node devops/http-audit/audit.mjs $(URL)

# Backups of DATABASE_URL's database (or the embedded one): see README, Operating it.
backup: db
	$(PY) devops/scripts/backup.py backup $(BACKUP)

restore: db
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=backups/<file>.dump"; exit 2; }
	$(PY) devops/scripts/backup.py restore $(BACKUP)

# The production stack run natively from devops/ configs (Docker cannot run here): see
# devops/stack/stack.py. Needs nginx, redis-server and PostgreSQL's server binaries.
stack: install
	$(PY) devops/stack/stack.py up

stack-check: install
	$(PY) devops/stack/stack.py check
	$(PY) devops/bench/week_view.py

# 1,000 webhook deliveries through a real worker to a loopback receiver; deliveries per second.
bench-webhooks: migrate
	$(PY) devops/bench/webhooks.py --count 1000

clean:
	rm -rf $(VENV) .local/tools .pytest_cache .ruff_cache staticfiles $(GRAPHIQL_VENDOR) devops/graphiql/node_modules examples/node_modules

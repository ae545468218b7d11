# Two commands do everything on a fresh machine with Python 3.11 (no database or broker needed):
#   make demo   — virtualenv, install, then manage.py demo_run: the embedded PostgreSQL and a Redis it
#                 starts itself, migrate, the demo store, web server + Celery worker + beat on
#                 127.0.0.1:8000; Ctrl-C stops all of it
#   make test   — install test dependencies, lint, run the whole suite against PostgreSQL and Redis
#                 (TEST_DATABASE_URL / TEST_REDIS_URL, else the local servers on 5432 / 6379, else
#                 the embedded PostgreSQL and the pip-installed redis-server)
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1:8000
TEST_DATABASE_URL ?=
TEST_REDIS_URL ?=
PYTEST_ARGS ?=
# When `make demo` was typed, so the demo can say how long it took to serve.
DEMO_STARTED := $(shell date +%s.%N)
# Cached bytecode saves every worker and command process from recompiling thousands of modules.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test install install-test lint format serve worker beat bench-ingest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements/base.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements/base.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements/test.lock
	$(BIN)/pip install --quiet -r requirements/test.lock
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	VOYAGE_DEMO_STARTED=$(DEMO_STARTED) $(BIN)/python manage.py demo_run --host $(HOST)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The test database and Redis come only from TEST_DATABASE_URL / TEST_REDIS_URL (or the fallbacks
# in config/settings/services.py), never from a DATABASE_URL / REDIS_URL exported for development.
test: install-test lint
	env -u DATABASE_URL -u REDIS_URL $(if $(TEST_DATABASE_URL),DATABASE_URL=$(TEST_DATABASE_URL)) \
	  $(if $(TEST_REDIS_URL),REDIS_URL=$(TEST_REDIS_URL)) $(BIN)/pytest $(PYTEST_ARGS)

worker: install
	$(BIN)/celery -A config worker -l info

beat: install
	$(BIN)/celery -A config beat -l info

# Ingestion benchmark against PostgreSQL (creates its own voyage_bench_ingest database);
# see docs/benchmarks/ingest.md. Full size: make bench-ingest BENCH_INGEST_ARGS="--events 200000".
BENCH_INGEST_ARGS ?=
bench-ingest: install
	$(if $(TEST_DATABASE_URL),DATABASE_URL=$(TEST_DATABASE_URL)) $(BIN)/python -m bench.ingest $(BENCH_INGEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles

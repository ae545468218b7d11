# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   — virtualenv, install, migrate, load the demo store, serve on 127.0.0.1:8000
#   make test   — install test dependencies, lint, run the whole suite against PostgreSQL and Redis
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1:8000
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/voyage
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=
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
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@echo "Serving Voyage on http://$(HOST)/admin/  (API docs: http://$(HOST)/api/docs/)"
	$(BIN)/python manage.py runserver $(HOST)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install-test lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

worker: install
	$(BIN)/celery -A config worker -l info

beat: install
	$(BIN)/celery -A config beat -l info

# Ingestion benchmark against PostgreSQL (creates its own voyage_bench_ingest database);
# see docs/benchmarks/ingest.md. Full size: make bench-ingest BENCH_INGEST_ARGS="--events 200000".
BENCH_INGEST_ARGS ?=
bench-ingest: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m bench.ingest $(BENCH_INGEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles

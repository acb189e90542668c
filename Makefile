# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tasktrack
export REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test lint format bench migrations-check services-check clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -q -r requirements-dev.txt
	touch $@

# SQLite, in-process cache and channel layer: no services needed.
run: $(VENV)/.runtime
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py migrate --noinput
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py seed_demo --if-empty
	@echo ""
	@echo "  Tasktrack is on http://127.0.0.1:8000  (log in as demo / demo)"
	@echo ""
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/daphne -b 127.0.0.1 -p 8000 tasktrack.asgi:application

# The whole suite, against real PostgreSQL and Redis.
test: $(VENV)/.dev services-check
	$(VENV)/bin/pytest $(PYTEST_ARGS)

services-check: $(VENV)/.runtime
	@$(PY) -m tasktrack.services_check

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.runtime
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py makemigrations --check --dry-run

bench: $(VENV)/.dev services-check
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

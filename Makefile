# Two commands for a newcomer: `make run` and `make test`.
# Python 3.11 or newer; PYTHON=/path/to/python3.11 picks another interpreter.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

# `make test` runs against real services: these defaults apply when the variables are unset.
# `make run` takes DATABASE_URL and REDIS_URL only from the environment: unset, SQLite and no Redis.
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/tasktrack)
TEST_REDIS_URL := $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
TEST_ENV := DATABASE_URL='$(TEST_DATABASE_URL)' REDIS_URL='$(TEST_REDIS_URL)'

# $(error) prints one line and stops make.
stop_if = $(if $(1),$(error $(1)))

.PHONY: run test lint format bench migrations-check services-check clean

$(VENV)/.runtime: requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "Tasktrack needs Python 3.11 or newer: install python3.11, or set PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	@echo ""
	@echo "  Tasktrack is on http://127.0.0.1:8000/  (log in as demo / demo)"
	@echo ""
	$(VENV)/bin/daphne -b 127.0.0.1 -p 8000 tasktrack.asgi:application

# The whole suite, against real PostgreSQL and Redis (tests use their own Redis index,
# REDIS_TEST_DB, default 15). The services are checked first, before anything is installed.
test: services-check $(VENV)/.dev
	@$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS); status=$$?; \
		if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure, not a pass." >&2; fi; \
		exit $$status

services-check:
	$(call stop_if,$(shell $(TEST_ENV) $(PYTHON) tasktrack/services_check.py 2>&1))
	@:

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.runtime
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py makemigrations --check --dry-run

bench: services-check $(VENV)/.dev
	$(TEST_ENV) $(PY) -m bench.run

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

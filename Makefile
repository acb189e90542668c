# Two commands for a newcomer: `make run` and `make test`.
# Python 3.11 or newer; PYTHON=/path/to/python3.11 picks another interpreter.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

# `make run` serves on 127.0.0.1:$(PORT). It takes DATABASE_URL and REDIS_URL only from the
# environment: DATABASE_URL unset, it starts the embedded PostgreSQL (tasktrack.devdb, data in
# .data/); REDIS_URL unset, an in-process cache and channel layer.
PORT ?= 8000
DEVDB := $(PY) -m tasktrack.devdb

# `make test` runs against real services: these defaults apply when the variables are unset.
# DATABASE_URL unset: the PostgreSQL on $(LOCAL_POSTGRES) when one listens there, else the embedded one.
LOCAL_POSTGRES ?= 127.0.0.1:5432
TEST_DATABASE_URL := $(or $(DATABASE_URL),$(shell $(PYTHON) tasktrack/services_check.py --local-postgres $(LOCAL_POSTGRES)))
TEST_REDIS_URL := $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
TEST_ENV := DATABASE_URL='$(TEST_DATABASE_URL)' REDIS_URL='$(TEST_REDIS_URL)'
# Runs a command on the embedded PostgreSQL when TEST_DATABASE_URL is empty (over loopback TCP:
# the suite's helpers rebuild URLs from host and port), as it is otherwise.
WITH_TEST_DATABASE := $(if $(TEST_DATABASE_URL),,$(DEVDB) --tcp --)

# $(error) prints one line and stops make.
stop_if = $(if $(1),$(error $(1)))

.PHONY: run serve test lint format bench soak migrations-check services-check clean

$(VENV)/.runtime: requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "Tasktrack needs Python 3.11 or newer: install python3.11, or set PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Ctrl-C stops daphne, then the embedded PostgreSQL (unless another `make run` still uses it).
run: $(VENV)/.runtime
	@$(DEVDB) -- $(MAKE) --no-print-directory serve PORT=$(PORT)

# What `make run` does once DATABASE_URL names a database.
serve: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py dev_admin
	@echo ""
	@echo "  Tasktrack is on http://127.0.0.1:$(PORT)/  (log in as demo / demo)"
	@echo "  The admin is on http://127.0.0.1:$(PORT)/admin/  (log in as admin / admin, a staff superuser)"
	@echo ""
	@# A queue worker beside the server (notifications, webhooks, imports, the daily snapshot);
	@# stopped with it; it logs only warnings and errors here. A script's background jobs ignore
	@# Ctrl-C, hence the trap.
	@LOG_LEVEL=WARNING $(PY) manage.py procrastinate worker & worker=$$!; \
		trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) tasktrack.asgi:application

# The whole suite, against real PostgreSQL and Redis (tests use their own Redis index,
# REDIS_TEST_DB, default 15). The services are checked first, before anything is installed.
test: services-check $(VENV)/.dev
	@$(TEST_ENV) $(WITH_TEST_DATABASE) $(VENV)/bin/pytest $(PYTEST_ARGS); status=$$?; \
		if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure, not a pass." >&2; fi; \
		exit $$status

services-check:
	$(call stop_if,$(shell $(TEST_ENV) $(PYTHON) tasktrack/services_check.py 2>&1))
	@:

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# No database needed: without one, makemigrations skips comparing with the applied migrations
# (the warning that it did so is silenced).
migrations-check: $(VENV)/.runtime
	env -u DATABASE_URL -u REDIS_URL $(PY) -W "ignore:Got an error checking a consistent migration history" \
		manage.py makemigrations --check --dry-run

bench: services-check $(VENV)/.dev
	$(TEST_ENV) $(WITH_TEST_DATABASE) $(PY) -m bench.run

# 30 minutes of mixed traffic against gunicorn and tasktrack.serve; SOAK_ARGS="--minutes 2" for a short one.
soak: services-check $(VENV)/.dev
	$(TEST_ENV) $(WITH_TEST_DATABASE) $(PY) -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

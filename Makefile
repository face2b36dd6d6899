# Command Center — the commands of the README.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

# `.ci/run` sets --allow-unreachable: see there.
AUDIT_FLAGS ?=

.PHONY: help install run demo test lint audit bench migrate clean

help:
	@echo "make run    - install, migrate, create the admin user, serve on http://127.0.0.1:8000 with a worker and Beat"
	@echo "make demo   - load the demo data set"
	@echo "make test   - install and run lint, type checks, migration check and the whole test suite"
	@echo "make lint   - ruff (lint + format check), mypy, bandit and the dependency audit (pip-audit)"
	@echo "make bench  - run the benchmarks and print their tables"

$(STAMP): requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=python3.x)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	@mkdir -p var/celery var/media
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py ensure_superuser
	@rm -rf var/prometheus && mkdir -p var/prometheus
	@echo ""
	@echo "  Command Center is starting:"
	@echo "    admin     http://127.0.0.1:8000/admin/"
	@echo "    API       http://127.0.0.1:8000/api/v1/"
	@echo "    API docs  http://127.0.0.1:8000/api/docs/"
	@echo "    health    http://127.0.0.1:8000/health"
	@echo "    chroma    http://127.0.0.1:8001 (knowledge index; commands beside it: CHROMA_URL=http://127.0.0.1:8001)"
	@echo "  (web server, Celery worker and Beat; Ctrl-C stops them all)"
	@echo ""
	PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus CHROMA_URL=http://127.0.0.1:8001 \
		$(VENV)/bin/honcho start -f Procfile

demo: migrate
	$(PY) manage.py load_demo

lint: $(STAMP)
	$(VENV)/bin/ruff check . .ci/audit
	$(VENV)/bin/ruff format --check . .ci/audit
	$(VENV)/bin/mypy apps commandcenter config benchmarks
	$(VENV)/bin/bandit -c pyproject.toml -r apps commandcenter config -ll -q
	$(PY) .ci/audit $(AUDIT_FLAGS)

# Known vulnerabilities in the installed dependencies; fails when the advisories cannot be fetched.
audit: $(STAMP)
	$(PY) .ci/audit $(AUDIT_FLAGS)

test: lint
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest --cov --cov-report=term:skip-covered --no-cov-on-fail

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage

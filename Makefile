# The two commands a new user types: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev browser lint typecheck pytest serve worker bench bench-check screenshots clean audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.dev-installed

## make run: install, migrate, load the bundled snapshot (idempotent), serve on 127.0.0.1:5000.
run: install
	$(BIN)/evidence db upgrade
	$(BIN)/evidence snapshot load
	$(BIN)/evidence serve --host $(HOST) --port $(PORT)

## Debian's Chromium for the browser tests (never a browser downloaded by a test tool).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium from Debian's packages"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev browser
	$(BIN)/pytest $(PYTEST_ARGS)

## make test: lint (ruff), type checks (mypy), then the whole pytest suite incl. browser tests.
test: lint typecheck pytest

## make audit: pip-audit (says "not run: <reason>" when its database is out of reach) and bandit.
audit: install-dev
	$(BIN)/python scripts/audit.py

## make bench: every benchmark, figures beside their same-run baselines (BENCH_ARGS=--check fails on a miss).
bench: install-dev
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b $(BENCH_ARGS) || exit 1; done

## make bench-check: the same run, failing when a benchmark misses its target.
bench-check:
	@$(MAKE) --no-print-directory bench BENCH_ARGS=--check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

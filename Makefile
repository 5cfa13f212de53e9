# Two commands for a fresh machine (Python 3.11+ and make):
#   make demo   - install, then run the whole stack and a few sample jobs (`longhaul demo`)
#   make test   - install, then lint, import contracts, types and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.longhaul-installed

.PHONY: install demo test lint chaos up down clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Longhaul needs Python 3.11 or newer (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/longhaul demo

up: install
	$(BIN)/longhaul up

down:
	$(BIN)/longhaul down

lint: install
	$(BIN)/ruff check longhaul tests scripts
	$(BIN)/ruff format --check longhaul tests scripts bench
	$(BIN)/lint-imports
	$(BIN)/mypy longhaul

test: lint
	$(BIN)/pytest

# Faults against the real stack (about 15 minutes, not part of `make test`): bench/chaos.py.
chaos: install
	$(BIN)/python -m bench.chaos

clean:
	rm -rf $(VENV) .longhaul .pytest_cache .mypy_cache .ruff_cache

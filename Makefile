# One command each: `make run` runs the service, `make test` runs the tests.
# Both create .venv and install what they need on first use (Python 3.11+ as $(PYTHON)).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo run login migrate test bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chanwatch needs Python 3.11 or newer (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,fast,web]'
	@touch $(STAMP)

demo: $(STAMP)         ## try it offline: fake Telegram, real posts, the real service
	$(BIN)/chanwatch demo $(DEMO_ARGS)

run: $(STAMP)          ## the service (fill .env and run `make login` once first)
	$(BIN)/chanwatch run

login: $(STAMP)        ## log the user account in, once (interactive)
	$(BIN)/chanwatch login

migrate: $(STAMP)
	$(BIN)/chanwatch migrate

test: $(STAMP)         ## lint, types, then the whole test suite, offline
	$(BIN)/ruff check bot tests bench scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)        ## benchmarks print their figures
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache

# The two commands a newcomer runs: `make demo` and `make test`. Everything they need is installed
# here, into .venv, from the package registries; nothing is installed by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Set up everything and run Huiju on its embedded defaults (Ctrl-C stops it).
demo: $(STAMP)
	$(BIN)/huiju demo

## Set up and run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy huiju workflows_bpmn exchange adapters

bench: $(STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) instance .pytest_cache

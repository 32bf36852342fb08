# The two quick-start commands: `make run` and `make test`. Each sets up everything it needs
# on a fresh machine with only Python 3.11+ (a virtual environment in .venv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/sla-worker check-config
	$(BIN)/sla-worker db upgrade
	$(BIN)/sla-worker run

demo: $(STAMP)
	$(BIN)/sla-worker demo

test: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

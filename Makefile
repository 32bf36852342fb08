# The two quick-start commands: `make run` and `make test`. Each sets up everything it needs
# on a fresh machine with only Python 3.11+ (a virtual environment in .venv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/sla-worker check-config
	$(BIN)/sla-worker db upgrade
	$(BIN)/sla-worker score
	$(BIN)/sla-worker results --period $$(date +%Y-%m) --format table

test: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

# The two quick-start commands: `make run` and `make test`. Each sets up everything it needs
# on a fresh machine with only Python 3.11+ (a virtual environment in .venv).

PYTHON ?= python3
# Test processes (pytest-xdist). Most tests wait on the workers, servers and browsers they
# start, so on two cores a third process fills the time two leave idle. TEST_WORKERS=0 runs
# the tests in one process.
TEST_WORKERS ?= 3
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
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

# The two commands a newcomer needs: `make demo` (see it work) and `make test` (prove it works).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo clean

$(BIN)/shipper: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,journald,kubernetes]'
	touch $@

install: $(BIN)/shipper

lint: install
	$(BIN)/ruff check shipper tests demo bench peers

test: install lint
	$(BIN)/pytest -q

demo: install
	$(BIN)/python -m demo

clean:
	rm -rf $(VENV) build dist *.egg-info

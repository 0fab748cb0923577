# The two commands a newcomer needs: `make demo` (see it work) and `make test` (prove it works).
# Each installs what it needs first: Debian packages (scripts/system-packages.sh: apt-get as root,
# otherwise the exact command to run), the Python venv, and LocalStack in a venv of its own.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-packages-demo system-packages-test localstack test lint fuzz demo image clean

system-packages-demo:
	@bash scripts/system-packages.sh demo

system-packages-test:
	@bash scripts/system-packages.sh test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The demo runs with the base install and the Kubernetes extra (a compiler builds the kernels where
# there is one; none is needed);
# the tests also build the journald extra (systemd-python) and take the test tools.
$(VENV)/.demo-installed: pyproject.toml setup.py $(wildcard shipper/kernels/*.[ch]) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo,kubernetes]'
	touch $@

$(VENV)/.test-installed: pyproject.toml setup.py $(wildcard shipper/kernels/*.[ch]) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,demo,journald,kubernetes]'
	touch $@ $(VENV)/.demo-installed

install: system-packages-test $(VENV)/.test-installed

localstack:
	@bash localstack/install.sh

# The Fluentd project's Node.js client (fluent-logger), pinned by its lock file: the forward source's
# tests drive it
peers/forward_client/node_modules/.installed: peers/forward_client/package-lock.json | system-packages-test
	npm ci --prefix peers/forward_client --no-audit --no-fund --quiet
	touch $@

lint: install
	$(BIN)/ruff check shipper tests demo bench peers
	$(BIN)/mypy

# Every decoder a client or a pod feeds, fuzzed by atheris for FUZZ_SECONDS each (scripts/fuzz.sh)
fuzz: install
	bash scripts/fuzz.sh $(BIN)/python

test: install localstack peers/forward_client/node_modules/.installed lint fuzz
	$(BIN)/pytest -q

demo: system-packages-demo $(VENV)/.demo-installed localstack
	$(BIN)/python -m demo

# The agent's OCI image in build/image/oci (no container engine; as root). docs/operations.md: publishing.
image:
	@bash scripts/system-packages.sh image
	bash image/build.sh build/image

clean:
	rm -rf $(VENV) build dist *.egg-info

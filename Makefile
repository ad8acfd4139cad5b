# The verbs people and CI share. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# A change to any of these re-installs (the build hook compiles the C fast path).
INSTALL_INPUTS := pyproject.toml hatch_build.py src/flywheel_ml/data/_folderio.c

.PHONY: demo test lint unit bench clean venv dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Runtime install: enough for the demo (scikit-learn for the bundled data and models).
$(VENV)/.installed-demo: $(INSTALL_INPUTS) | $(BIN)/python
	$(BIN)/pip install -q -e '.[ml,server]'
	touch $@

# Development install: every extra, test tools and linters.
$(STAMP): $(INSTALL_INPUTS) | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed-demo
dev: $(STAMP)

demo: $(VENV)/.installed-demo
	$(BIN)/flywheel demo --dir flywheel-demo

lint: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -n auto --dist loadfile -q

test: lint unit

bench: $(STAMP)
	$(BIN)/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) flywheel-demo .pytest_cache .mypy_cache .ruff_cache

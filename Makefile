# toyflow: developer and CI entry points. `make help` lists the targets.
#
# Everything runs from a project-local virtual environment (.venv); nothing is installed globally.
# torch is installed first and pinned: an unpinned torch pulls the newest release with gigabytes of
# CUDA wheels, while torch==$(TORCH_VERSION) takes the CPU build where one is available.

PY ?= python3
TORCH_VERSION ?= 2.13.0
VENV ?= .venv
LAB_ARGS ?=
PYTEST_ARGS ?=
PYTEST_WORKERS ?= -n auto --dist loadfile --no-loadscope-reorder
APP_PORT ?= 8866
APP_ARGS ?=

BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed-torch$(TORCH_VERSION)
APP_STAMP := $(VENV)/.installed-app
APP_NOTEBOOK := notebooks/02_preference.ipynb
# Only the folders that exist (git does not keep empty ones, and ruff fails on a missing path).
LINT_PATHS := $(wildcard toyflow tests benchmarks notebooks docs setup.py)
BENCHMARKS := $(filter-out benchmarks/common.py,$(wildcard benchmarks/*.py))

.DEFAULT_GOAL := help
.PHONY: help venv test lint format lab app benchmark clean

help:
	@echo "make venv       create $(VENV) (torch==$(TORCH_VERSION) first, then -e '.[test]')"
	@echo "make test       make lint, then every test (slow ones included)"
	@echo "make lint       ruff check, ruff format --check, and the import layers (lint-imports)"
	@echo "make format     ruff format (rewrites files)"
	@echo "make lab        jupyter lab notebooks/ from $(VENV) (extra arguments: LAB_ARGS=...)"
	@echo "make app        $(APP_NOTEBOOK) as a Voila app on http://127.0.0.1:$(APP_PORT)/ (no code shown;"
	@echo "                installs the [app] extra; APP_PORT=..., extra arguments: APP_ARGS=...)"
	@echo "make benchmark  run every benchmarks/*.py script"
	@echo "make clean      remove caches and build outputs (keeps $(VENV))"

venv: $(STAMP)

# Re-run the install only when pyproject.toml changes (or TORCH_VERSION, which names the stamp).
$(STAMP): pyproject.toml
	@test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install "torch==$(TORCH_VERSION)"
	$(PYTHON) -m pip install -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports --no-cache

test: venv lint
	$(PYTHON) -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

format: venv
	$(BIN)/ruff format $(LINT_PATHS)

lab: venv
	$(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

# The page appears in seconds: TOYFLOW_APP=1 makes the notebook leave its hands-free rounds to JupyterLab, and
# progressive rendering shows the text at once and each output as its cell ends, the picker before the cells after it
# (tests/browser/appserver.py serves the app with the same options).
APP_OPTIONS := --VoilaConfiguration.progressive_rendering=True

# The [app] extra (Voila); make venv's [test] extra includes it, this covers an environment made without it.
$(APP_STAMP): $(STAMP)
	$(PYTHON) -m pip install -e '.[app]'
	@touch $@

app: venv $(APP_STAMP)
	@echo "toyflow app: open http://127.0.0.1:$(APP_PORT)/ in a browser (Ctrl-C here stops it)"
	TOYFLOW_APP=1 $(BIN)/voila $(APP_NOTEBOOK) --no-browser --port=$(APP_PORT) --Voila.ip=127.0.0.1 $(APP_OPTIONS) $(APP_ARGS)

benchmark: venv
	@if [ -z "$(BENCHMARKS)" ]; then echo "no benchmarks/*.py scripts yet"; fi
	@set -e; for script in $(BENCHMARKS); do \
		echo "== $$script"; \
		$(PYTHON) $$script; \
	done

clean:
	rm -rf .pytest_cache .ruff_cache build dist benchmarks/out tests/artifacts
	find . -path ./$(VENV) -prune -o -path ./.git -prune -o \
		\( -name __pycache__ -o -name .ipynb_checkpoints -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +

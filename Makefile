# Two commands set everything up on a fresh machine:
#   make run   -> creates .venv when missing, installs, runs the app's main job
#   make test  -> creates .venv when missing, installs, runs the CI tiers: lint, fast tests, slow tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export OMP_NUM_THREADS ?= 1

.PHONY: run test lint test-fast test-slow bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -c constraints.txt -e ".[gui,test,dev,bench]"
	touch $(STAMP)

# The main job: a whole session on the simulated headset over LSL (calibrate, fine-tune, decode online).
# With a display it opens the window; without one it runs headless and prints the report.
run: $(STAMP)
	@if [ -n "$$DISPLAY" ]; then $(BIN)/bci-app demo; else $(BIN)/bci-app demo --headless; fi

# The tiers, in order; each stops the run when it fails (.ci/run runs the same targets).
test: lint test-fast test-slow

# ruff, then the house's floors and the Qt-free core as import contracts ([tool.importlinter] in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

PYTEST := QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q
# pytest exits 5 when a tier collects no test: a lost marker or a broken selection, so a failure
define tier
	@echo "== $(1)"; $(PYTEST) -m "$(2)"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "$(1): pytest collected no tests" >&2; exit 1; fi; exit $$rc
endef

test-fast: $(STAMP)
	$(call tier,fast tests,not slow)

test-slow: $(STAMP)
	$(call tier,slow tests,slow)

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -P bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info

# friendshore — set-up and everyday commands. Needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB ?= friendshore-demo.duckdb

.PHONY: demo test install dev test-tools lint bench bench-smoke bench-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The dev set-up includes the Spark engine (extra "spark"; its tests are marked
# spark): pyspark needs Java 17, installed from Debian when java is missing (root).
$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	command -v java >/dev/null || (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless)
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

## make demo: build an embedded store from the bundled real data and print the headline result
demo: install
	@rm -f $(DEMO_DB) $(DEMO_DB).wal
	@$(BIN)/friendshore --db $(DEMO_DB) demo
	@echo "Next: source $(VENV)/bin/activate && export FRIENDSHORE_DB=$(DEMO_DB)" \
	  "(or run $(BIN)/friendshore --db $(DEMO_DB) …); see the README's walkthrough."

## make test-tools: the programs the suite drives besides Python — Debian's chromium
## (tests/test_report_browser.py opens report.html in it) and tmux (tests/test_terminal.py
## reads a 100-column terminal). Installed with apt-get when missing and this user may
## (root, or sudo without a password); otherwise make says what to install.
TEST_TOOLS := chromium tmux
test-tools:
	@missing=""; for t in $(TEST_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	[ -z "$$missing" ] && exit 0; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make test needs$$missing on PATH and this is no Debian/Ubuntu system: install it." >&2; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else \
	  echo "make test needs$$missing: run 'sudo apt-get install$$missing' once, then make test again." >&2; exit 1; \
	fi; \
	echo "make: installing$$missing with apt-get (the suite's browser and terminal tests use them)"; \
	$$SUDO apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null

## make test: lint, type-check and run the whole suite (installs the dev extras and, if missing, chromium and tmux)
test: dev test-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make bench: full-size benchmarks (10 million flows) → benchmarks/results/latest.json
BENCH_ARGS ?=
bench: dev
	$(BIN)/python -m benchmarks.run --scale 1.0 $(BENCH_ARGS)

## make bench-smoke: the suite at scale 0.01 in under a minute; fails on errors and wrong answers, not timing
bench-smoke: dev
	$(BIN)/python -m benchmarks.run --smoke
	$(BIN)/python -m benchmarks.coalitions --smoke

## make bench-check: fail when a ratio in latest.json regressed > 25 % against benchmarks/baseline.json
bench-check: dev
	$(BIN)/python -m benchmarks.check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis dist build $(DEMO_DB)

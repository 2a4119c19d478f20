# friendshore — set-up and everyday commands. Needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB ?= friendshore-demo.duckdb

.PHONY: demo test install dev lint bench bench-smoke bench-check clean

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
	rm -f $(DEMO_DB)
	$(BIN)/friendshore --db $(DEMO_DB) demo

## make test: lint and run the whole suite
test: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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

# Set-up and everyday commands. Only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= out
MONTH  ?= 2026-03

.PHONY: demo test test-fast lint bench bench-peers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,peers]"
	touch $(STAMP)

## demo: run the sample program's CCF batch, budget from history and year-end settlement
demo: $(STAMP)
	$(VENV)/bin/totalcare budget --history 2026=sample_data --practices sample_data/practices.csv --out $(OUT)/budget --force
	$(VENV)/bin/totalcare ccf --month $(MONTH) --data sample_data --out $(OUT)/ccf-$(MONTH) --force
	$(VENV)/bin/totalcare settle --year 2026 --data sample_data --out $(OUT)/settlement-2026 --force

## test: lint (ruff, mypy, the import layers), then the whole test suite
## (pytest's "no tests ran" counts as a failure)
test: lint
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## test-fast: the everyday lane: ruff and the tests not marked slow (no wheel build, no
## kill tests, no peers, no property tests)
test-fast: $(STAMP)
	$(VENV)/bin/ruff check totalcare_payments tests benchmarks
	$(PY) -m pytest -m "not slow"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## lint: ruff, mypy (with pandas-stubs) and the import contract (.importlinter)
lint: $(STAMP)
	$(VENV)/bin/ruff check totalcare_payments tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## bench: pytest-benchmark suite of the hot steps at 100k members
bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-enable -p no:cacheprovider

## bench-peers: each job (ccf one month, ccf twelve months, settle, full year) at 1M members against DuckDB and polars
bench-peers: $(STAMP)
	$(PY) benchmarks/peers.py --members 1000000 --repeat 3

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache .mypy_cache .hypothesis

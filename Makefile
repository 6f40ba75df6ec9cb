# Quick start: `make run` (demo server on SQLite) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck pytest run-deps system-deps bench-deps lock bench bench-large clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: install run-deps
	$(BIN)/maeul db upgrade
	$(BIN)/maeul demo load
	$(BIN)/maeul serve --port $(PORT)

# Debian packages, installed only when missing and running as root: Korean fonts and
# Pango/HarfBuzz for the readiness PDF (WeasyPrint) to run; chromium too for the browser tests.
RUN_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
# poppler-utils: pdftoppm turns the readiness PDF into PNGs the browser tests look at.
TEST_PACKAGES := $(RUN_PACKAGES) chromium poppler-utils
# wrk: the benchmark's load generator for the throughput ratios (bench/served.py); `make test` needs none.
BENCH_PACKAGES := $(RUN_PACKAGES) wrk
define apt_ensure
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(1) 2>&1 | grep -v "install ok installed" | awk '{print $$NF}'); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(1)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
	  else echo "missing Debian packages: $$missing (PDF and browser tests are skipped outside CI)"; fi; \
	fi
endef

run-deps:
	$(call apt_ensure,$(RUN_PACKAGES))

system-deps:
	$(call apt_ensure,$(TEST_PACKAGES))

bench-deps:
	$(call apt_ensure,$(BENCH_PACKAGES))

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: install system-deps lint typecheck pytest

# Regenerate the pinned constraints from a fresh resolve (maintainers only).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet --upgrade pip
	.lockenv/bin/pip install --quiet ".[dev]"
	.lockenv/bin/pip freeze --exclude maeul | grep -v '^-e' > requirements.lock
	rm -rf .lockenv

bench: install bench-deps
	$(BIN)/python -m bench.run

# Also 10,000 cooperatives (about 8 minutes more); writes bench/results/large.md.
bench-large: install bench-deps
	$(BIN)/python -m bench.run --large

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache

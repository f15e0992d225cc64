# Two commands matter: `make run` and `make test`. Both set the machine up first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 8000

PG_BIN ?= /usr/lib/postgresql/15/bin
NGINX  ?= /usr/sbin/nginx

.PHONY: setup run test test-kernels test-fast fuzz bench clean browser postgres nginx system-packages

setup: $(VENV)/.installed node_modules/.installed browser system-packages

# The venv is rebuilt only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# A Chromium for Playwright: one already present, else Playwright's, else Debian's.
browser: $(VENV)/.installed
	@$(PY) scripts/find_chromium.py --install >/dev/null

# Debian's packages for the cluster tests, which start their own: PostgreSQL's server binaries (initdb and
# pg_ctl in a temporary folder) and nginx (scripts/nginx.conf in front of two replicas, on loopback ports).
# Their system services are stopped at once where the install started them; the tests never use them.
SYSTEM_PACKAGES = $(if $(wildcard $(PG_BIN)/initdb),,postgresql) $(if $(wildcard $(NGINX)),,nginx)

system-packages:
	@test -z "$(strip $(SYSTEM_PACKAGES))" || { apt-get update -q \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES) \
	  && for s in $(SYSTEM_PACKAGES); do service $$s stop >/dev/null 2>&1 || true; done; } \
	  || echo "make: could not install $(strip $(SYSTEM_PACKAGES)); the tests that need them will be skipped"

postgres nginx: system-packages

run: $(VENV)/.installed node_modules/.installed
	$(VENV)/bin/layerlab serve --host $(HOST) --port $(PORT)

# Learning-outcome tests (marked `outcome`) run first under other CPU float kernels: a chaotic run's
# last epoch differs between machines, and these passes catch a test that only holds on this one.
# torch falls back where the CPU lacks a capability, so this is safe on any machine.
# The browser's outcome tests stay in the main pass only: each shows in the page a claim that an
# engine test proves on the same spec in these passes (the lessons in tests/engine/test_lessons.py,
# the rest in tests/engine/test_page_examples.py), and leaving them out keeps CI near its 8 minutes.
OUTCOME_KERNELS ?= default avx2

# The suite is spread over this many pytest-xdist workers (one per core); 1 runs it in one process.
# loadfile keeps a file's tests on one worker, so a module's Ray head or replicas start once (tests/conftest.py).
TEST_WORKERS ?= $(shell nproc)
XDIST        := $(if $(filter 1,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)

# schemathesis' generated cases (tests/server/test_fuzz.py) pass unrun on xdist's workers, so that
# file runs in one process (it refuses xdist itself).
FUZZ_FILE := tests/server/test_fuzz.py

test: setup test-kernels
	$(PY) -m pytest -q $(XDIST) --ignore=$(FUZZ_FILE)
	$(PY) -m pytest -q -p no:xdist $(FUZZ_FILE)

test-kernels: setup
	@for k in $(OUTCOME_KERNELS); do \
	  echo "== outcome tests under ATEN_CPU_CAPABILITY=$$k"; \
	  ATEN_CPU_CAPABILITY=$$k $(PY) -m pytest -q -m "outcome and not browser" -p no:cacheprovider $(XDIST) --ignore=$(FUZZ_FILE) || exit 1; \
	done

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not browser and not slow and not cluster"

# 10,000 hostile bodies, websocket frames and schemathesis cases per route against a live server
# (the same tests `make test` runs with a few hundred examples).
fuzz: $(VENV)/.installed
	FUZZ_LIVE=1 FUZZ_EXAMPLES=10000 $(PY) -m pytest -q -s -p no:xdist $(FUZZ_FILE)

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache

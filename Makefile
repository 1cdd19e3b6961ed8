# Localpost's developer entry points. Tools run from .venv by path; nothing needs
# activating. `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Touched after a complete install; anything newer than it means "install again".
STAMP := $(VENV)/.installed
SERVICES := smtp-gateway mailstore web imap-gateway
PYPROJECTS := pyproject.toml libs/smtplib_common/pyproject.toml \
	$(foreach s,$(SERVICES),services/$(s)/pyproject.toml)
PYTEST_ARGS ?=

# The first Python >= 3.11 on PATH; only used to create .venv.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo "$$p"; break; }; done)

# `make test-newest` runs the unit suites again on the newest CPython installed, in a
# virtualenv of its own: the images run a newer Python than .venv may, and a behaviour
# changed in a patch release must fail here, not in production (README "Testing").
NEWEST_VENV := .venv-newest
NEWEST_BIN := $(NEWEST_VENV)/bin
NEWEST_STAMP := $(NEWEST_VENV)/.installed

# Everything the tests need, installed into the virtualenv whose bin/ is $(1).
# pip cannot resolve smtplib-common by name (it is not on any index), so the library
# goes in first and the services' dependency on it is then already satisfied.
define install_into
	$(1)/python -m pip install -q --upgrade pip
	$(1)/python -m pip install -q -e 'libs/smtplib_common[test,fast]'
	$(1)/python -m pip install -q $(foreach s,$(SERVICES),-e 'services/$(s)[test]')
	$(1)/python -m pip install -q -r requirements-dev.txt
endef

.PHONY: help venv lint check-services test test-unit test-newest test-compose test-faults fuzz up bench format clean distclean

help:
	@echo "make venv            create/refresh .venv (editable lib + services, dev tools)"
	@echo "make lint            ruff check, ruff format --check, mypy"
	@echo "make check-services  is PostgreSQL / RabbitMQ answering? (DATABASE_URL, AMQP_URL)"
	@echo "make test            venv, lint, check-services, then every test"
	@echo "make test-unit       the library's and the services' own tests only"
	@echo "make test-newest     the same unit tests on the newest CPython installed (.venv-newest)"
	@echo "make test-compose    docker compose up --build and a user's journey over published ports"
	@echo "make test-faults     the fault scenarios alone, 5,000 messages each"
	@echo "make fuzz            fuzz targets (SMTP, MIME, sanitiser) and the SMTP state machine, FUZZ_EXAMPLES (2,000) each"
	@echo "make up              run the three services here, without Docker"
	@echo "make bench           benchmarks (bench/README.md); not part of make test"
	@echo "make format          ruff --fix and ruff format"
	@echo "make clean           remove caches; make distclean also removes .venv"

venv: $(STAMP)

$(STAMP): $(PYPROJECTS) requirements-dev.txt
	@if [ ! -x $(BIN)/python ]; then \
		if [ -z "$(PYTHON)" ]; then echo "make venv: no python >= 3.11 on PATH" >&2; exit 1; fi; \
		echo "creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(VENV) has Python < 3.11; run make distclean" >&2; exit 1; }
	$(call install_into,$(BIN))
	touch $(STAMP)

$(NEWEST_STAMP): $(PYPROJECTS) requirements-dev.txt deploy/newest_python.sh
	@newest="$$(deploy/newest_python.sh)"; \
	if [ ! -x $(NEWEST_BIN)/python ] || [ "$$($(NEWEST_BIN)/python -V)" != "$$("$$newest" -V)" ]; then \
		echo "creating $(NEWEST_VENV) with $$newest ($$("$$newest" -V))"; \
		rm -rf $(NEWEST_VENV); "$$newest" -m venv $(NEWEST_VENV); \
	fi
	$(call install_into,$(NEWEST_BIN))
	touch $(NEWEST_STAMP)

# The library is checked by package name (its editable install maps it to
# libs/smtplib_common/src), which does not depend on how its directories are laid out.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict -p smtplib_common
	$(BIN)/mypy $(foreach s,$(SERVICES),services/$(s)/src) deploy

check-services: venv
	$(BIN)/python -m deploy.check_services

# pytest's exit status 5 ("no tests collected") fails here like any other non-zero one.
# The unit suites on the newest CPython run beside the full run rather than after it:
# one pytest keeps one core busy and leaves the other mostly idle (vmstat: 49% idle on
# 2 cores), so together they end much sooner than one after the other (README
# "Testing"). Their output goes to $(NEWEST_LOG), printed whole when they fail.
# Beside, it keeps no pytest cache: two runs writing one .pytest_cache would mix up.
NEWEST_LOG := .newest-python.log
NEWEST_TESTS = $(NEWEST_BIN)/pytest libs services $(PYTEST_ARGS)
test: venv lint check-services $(NEWEST_STAMP)
	@echo "unit suites on $$($(NEWEST_BIN)/python -V) run beside this one; output in $(NEWEST_LOG)"
	@$(NEWEST_TESTS) -p no:cacheprovider >$(NEWEST_LOG) 2>&1 & \
	newest=$$!; \
	trap 'kill $$newest 2>/dev/null || true' INT TERM; \
	status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	newest_status=0; wait $$newest || newest_status=$$?; \
	echo "---- unit suites on $$($(NEWEST_BIN)/python -V) ($(NEWEST_LOG)) ----"; \
	if [ $$newest_status -ne 0 ]; then cat $(NEWEST_LOG); else tail -n 1 $(NEWEST_LOG); fi; \
	[ $$status -eq 0 ] && [ $$newest_status -eq 0 ]

# The editable installs of .venv-newest point at this checkout, as .venv's do; the
# integration tests (tests/) stay on .venv: they drive the same code over sockets.
test-newest: $(NEWEST_STAMP) check-services
	@echo "unit suites on $$($(NEWEST_BIN)/python -V)"
	$(NEWEST_TESTS)

# `docker compose up --build` on a real engine, then used from the host only, as a new
# user would (tests/compose/test_journey.py prints each phase's time). Needs Docker with
# Compose v2 and swaks; CI prepares an engine with ../shared/compose-engine (.ci/run).
test-compose: venv
	LOCALPOST_COMPOSE_JOURNEY=1 $(BIN)/pytest -s tests/compose $(PYTEST_ARGS)

# The fault runs of tests/integration/test_faults.py (make test runs them with 2,000
# messages each); private RabbitMQ and PostgreSQL instances, never the shared ones.
test-faults: venv check-services
	LOCALPOST_FAULT_MESSAGES=5000 $(BIN)/pytest -m faults -s tests/integration $(PYTEST_ARGS)

# The tests marked `fuzz` (hypothesis fuzz targets of the command parser and the
# DATA framer, hostile byte streams, the SMTP session state machine, the
# MIME-to-row parser, the HTML sanitiser). make test runs each with the small
# example count its test names; this runs them with FUZZ_EXAMPLES each (see
# libs/smtplib_common/tests/fuzzing.py).
FUZZ_EXAMPLES ?= 2000
fuzz: venv
	LOCALPOST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -m fuzz libs services $(PYTEST_ARGS)

test-unit: venv
	$(BIN)/pytest libs services $(PYTEST_ARGS)

up: venv check-services
	$(BIN)/python -m deploy.run_local

# Benchmarks measure speed and memory; tests never assert timings.
# bench/run_all.py runs every scenario and writes bench/results/<timestamp>.json.
bench: venv
	$(BIN)/python bench/run_all.py

format: venv
	$(BIN)/ruff check --fix --exit-zero .
	$(BIN)/ruff format .

clean:
	find . \( -path ./.venv -o -path ./.git \) -prune -o -type d \( -name __pycache__ \
		-o -name .pytest_cache -o -name .mypy_cache -o -name .ruff_cache -o -name .hypothesis \
		-o -name '*.egg-info' \) -prune -exec rm -rf {} +
	rm -rf build dist libs/*/build libs/*/dist services/*/build services/*/dist .coverage

distclean: clean
	rm -rf $(VENV) $(NEWEST_VENV)

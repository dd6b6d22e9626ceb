# The two commands: `make run` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit unit-sqlite unit-postgresql tools element-defender clean lock audit

# Suites that touch a database; the PostgreSQL pass runs these (the others use none).
DB_SUITES := tests/intake tests/bots tests/test_deploy.py

# Every package comes from the hash-pinned lock (`make lock` writes it from
# pyproject.toml); the project itself is installed without its dependencies.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve the locks after changing dependencies in pyproject.toml (needs PyPI).
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet pyproject.toml --extra build --generate-hashes \
		--python-version 3.11 --output-file requirements.lock
	$(BIN)/uv pip compile --quiet pyproject.toml --extra build --extra dev --generate-hashes \
		--python-version 3.11 --output-file requirements-dev.lock

# Known vulnerabilities in the locked releases, where an advisory source answers.
audit: $(STAMP)
	$(BIN)/python scripts/audit-lock

run: $(STAMP)
	$(BIN)/hrd-intake init --demo --if-absent
	$(BIN)/hrd-intake serve

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Every suite on both databases (tests/support/databases.py): all of them on SQLite,
# and the database suites again on PostgreSQL (127.0.0.1:5432, database `test`).
# The two passes run side by side (each keeps about one core busy); each one's
# output is printed whole when it ends.
unit: $(STAMP) tools
	$(MAKE) --no-print-directory --output-sync=target -j2 unit-sqlite unit-postgresql

unit-sqlite: $(STAMP) tools
	HRD_TEST_DATABASES=sqlite $(BIN)/pytest

unit-postgresql: $(STAMP) tools
	HRD_TEST_DATABASES=postgresql $(BIN)/pytest $(DB_SUITES)

# Debian packages the tests use, installed with apt-get where it exists and we are root (CI);
# elsewhere the tests that need them skip (and fail in CI, where CI is set):
# - docker-compose (1.29; no engine needed) validates docker-compose.yml in tests/test_deploy.py;
# - chromium + chromium-driver run the web console's browser tests (tests/intake/web/test_browser.py)
#   with Selenium: the system browser, never a downloaded one.
TOOLS := docker-compose:docker-compose chromium:chromium chromedriver:chromium-driver

tools:
	@missing=""; for pair in $(TOOLS); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "note:$$missing missing and cannot apt-get here: the tests that need them skip"; \
		fi; \
	fi

# The Element-stack defender of the Matrix tests (matrix-js-sdk under Node, npm ci from the
# lock into .cache/element-defender). The tests install it themselves the first time too.
element-defender: $(STAMP)
	$(BIN)/python -c "from tests.support.element_defender import ensure_installed as e; print(e())"

test: lint typecheck audit unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

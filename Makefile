# The two commands: `make run` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit unit-sqlite unit-postgresql tools clean lock audit

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
# then the database suites again on PostgreSQL (127.0.0.1:5432, database `test`).
unit: unit-sqlite unit-postgresql

unit-sqlite: $(STAMP) tools
	HRD_TEST_DATABASES=sqlite $(BIN)/pytest

unit-postgresql: $(STAMP) tools
	HRD_TEST_DATABASES=postgresql $(BIN)/pytest $(DB_SUITES)

# docker-compose (Debian's 1.29; no engine needed) validates docker-compose.yml in
# tests/test_deploy.py. Installed with apt-get where it exists and we are root (CI);
# elsewhere that test skips (and fails in CI, where CI is set).
tools:
	@if ! command -v docker-compose >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; \
		else \
			echo "note: docker-compose missing and cannot apt-get it here: tests/test_deploy.py skips"; \
		fi; \
	fi

test: lint typecheck audit unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

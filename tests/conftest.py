"""Shared fixtures: real SQLite files, the machine's PostgreSQL, cheap key derivation.

Databases (see `tests.support.databases`): `HRD_TEST_DATABASES` selects the
databases of a run (default both). `database_url` and `setup` run a test
once per selected database. The other setups follow the run's first
database: `primary_setup` (the embedded setup of tests not parametrised:
SQLite unless the run is PostgreSQL-only; tests that read the SQLite file
itself are marked `sqlite_file` and skip in such a run) and `database_env` /
`module_database_env` for command-line tests. `postgres_setup` is for tests
of PostgreSQL behaviour (concurrent processes, outages): they skip unless
PostgreSQL is selected.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake.runtime.logs import setup_logging
from tests.support.databases import pg_schema, postgres_available, selected_databases
from tests.support.setup import CHEAP_KDF, Setup, embedded_setup

DATABASES = selected_databases()
PRIMARY = DATABASES[0]
# Argon2id at 64 MiB x 3 passes is the production cost; tests derive cheaply.

_PG = postgres_available()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_file: reads the SQLite file itself; skipped on PostgreSQL-only runs"
    )


# The fixtures through which a test reaches a database (directly or through another fixture).
_DATABASE_FIXTURES = frozenset(
    {
        "pg_url",
        "database_url",
        "setup",
        "primary_setup",
        "postgres_setup",
        "database_env",
        "module_database_env",
        "store",  # tests/intake/storage
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A PostgreSQL-only run leaves out the tests that use no database.

    That run is the second pass of `make unit`, after a first pass of every test
    on SQLite: a test that touches no database would only run again unchanged.
    """
    if "sqlite" in DATABASES:
        return
    kept, left_out = [], []
    for item in items:
        uses_database = _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (kept if uses_database else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def _require_postgres() -> None:
    if "postgresql" not in DATABASES:
        pytest.skip("PostgreSQL is not selected (HRD_TEST_DATABASES)")
    if not _PG:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable in CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema; the URL points its search_path there."""
    _require_postgres()
    with pg_schema() as url:
        yield url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'intake.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup(tmp_path: Path, database_url: str) -> Iterator[Setup]:
    """A complete embedded setup on SQLite or PostgreSQL, with demo missions."""
    with embedded_setup(tmp_path / "home", database_url, CHEAP_KDF) as built:
        yield built


def _primary_url(request: pytest.FixtureRequest, home: Path) -> str:
    if PRIMARY == "sqlite":
        return f"sqlite:///{home / 'intake.db'}"
    if request.node.get_closest_marker("sqlite_file"):
        pytest.skip("reads the SQLite file itself: runs in the SQLite pass")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def primary_setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """The embedded setup on the run's first database (SQLite unless PostgreSQL-only)."""
    home = tmp_path / "home"
    with embedded_setup(home, _primary_url(request, home), CHEAP_KDF) as built:
        yield built


@pytest.fixture
def postgres_setup(tmp_path: Path, pg_url: str) -> Iterator[Setup]:
    """The embedded setup on PostgreSQL, for tests of PostgreSQL behaviour."""
    with embedded_setup(tmp_path / "home", pg_url, CHEAP_KDF) as built:
        yield built


@pytest.fixture
def database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for a command-line test: the run's first database ({} = the home's SQLite)."""
    if PRIMARY == "sqlite":
        return {}
    if request.node.get_closest_marker("sqlite_file"):
        pytest.skip("reads the SQLite file itself: runs in the SQLite pass")
    return {"HRD_INTAKE_DATABASE_URL": str(request.getfixturevalue("pg_url"))}


@pytest.fixture(scope="module")
def module_database_env() -> Iterator[dict[str, str]]:
    """`database_env` for a module's shared setup (one schema for the module)."""
    if PRIMARY == "sqlite":
        yield {}
        return
    _require_postgres()
    with pg_schema() as url:
        yield {"HRD_INTAKE_DATABASE_URL": url}


@pytest.fixture
def debug_log() -> Iterator[Callable[..., Path]]:
    """`debug_log(path, "json")`: log everything, DEBUG included, to `path`, as `serve` would.

    For the canary tests, which then read that file; the handlers are removed afterwards.
    """

    def start(path: Path, log_format: str = "json") -> Path:
        setup_logging(path, log_format, "DEBUG", stderr_level="CRITICAL")
        return path

    try:
        yield start
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()

"""Shared fixtures: real SQLite files, the machine's PostgreSQL, cheap key derivation.

PostgreSQL tests run in a schema of their own in database `test`
(127.0.0.1:5432, trust auth), dropped afterwards, so runs never collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from crypto import KdfParams
from tests.support.setup import Setup, embedded_setup

PG_ROOT = os.environ.get("HRD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Argon2id at 64 MiB x 3 passes is the production cost; tests derive cheaply.
CHEAP_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)


def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_ROOT)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


_PG = _postgres_available()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema; the URL points its search_path there."""
    if not _PG:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable in CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    schema = f"hrd_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ROOT, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ROOT}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
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


@pytest.fixture
def sqlite_setup(tmp_path: Path) -> Iterator[Setup]:
    """The same on a SQLite file only (for tests that inspect the file itself)."""
    url = f"sqlite:///{tmp_path / 'home' / 'intake.db'}"
    with embedded_setup(tmp_path / "home", url, CHEAP_KDF) as built:
        yield built

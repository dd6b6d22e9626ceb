"""The storage contract suite's database: migrated once per module and database, emptied per test.

Parametrised over the run's databases (`HRD_TEST_DATABASES`), like the
`database_url` fixture, but the schema is built once per module: every
test then starts from empty tables (rows deleted after it), which keeps
some fifty tests on two databases quick.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crypto import Keyring
from intake.storage import migrate
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.models import Base
from intake.storage.records import RecordCipher
from tests.support.databases import pg_schema, postgres_available, selected_databases
from tests.support.rows import T0


def _migrated(url: str) -> Engine:
    engine = make_engine(url)
    migrate.upgrade(engine)
    return engine


@pytest.fixture(scope="module", params=selected_databases())
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of each selected kind, shared by a module's tests."""
    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp("storage")
        engine = _migrated(f"sqlite:///{folder / 'intake.db'}")
        yield engine
        engine.dispose()
        return
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable in CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    with pg_schema() as url:
        engine = _migrated(url)
        yield engine
        engine.dispose()


@pytest.fixture
def sessions(store: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the module's database; every table is emptied after the test."""
    yield make_session_factory(store)
    with store.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="module")
def cipher() -> RecordCipher:
    """A record cipher on a fresh in-memory keyring (for the functions that open records)."""
    keyring = Keyring.generate(T0)
    return RecordCipher(lambda: keyring)

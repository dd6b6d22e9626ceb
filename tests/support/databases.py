"""Which databases a test run uses, and fresh PostgreSQL schemas.

`HRD_TEST_DATABASES` (comma-separated, default `sqlite,postgresql`) selects
the databases of a run. `make test` runs the suites twice: once with
`sqlite`, once with `postgresql`, so every suite runs on both; a plain
`pytest` runs the parametrised storage tests on both in one go.

PostgreSQL tests run in a schema of their own in database `test`
(127.0.0.1:5432, trust auth, or `HRD_TEST_PG_URL`), dropped afterwards, so
runs never collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

KNOWN = ("sqlite", "postgresql")
PG_ROOT = os.environ.get("HRD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def selected_databases() -> tuple[str, ...]:
    raw = os.environ.get("HRD_TEST_DATABASES", ",".join(KNOWN))
    chosen = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = [name for name in chosen if name not in KNOWN]
    if unknown or not chosen:
        raise ValueError(f"HRD_TEST_DATABASES={raw!r}: choose among {', '.join(KNOWN)}")
    return chosen


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_ROOT)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema; yields a URL whose search_path points there."""
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


def through_port(url: str, port: int) -> str:
    """The same database URL, reached through 127.0.0.1:`port` (a proxy)."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

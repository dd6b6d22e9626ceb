"""Database engine and sessions.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL` (a
commit is on disk before we acknowledge a platform message), `secure_delete`
(deleted rows are overwritten, which crypto-shredding relies on) and foreign
keys on. PostgreSQL connections get timeouts, so an outage fails fast.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


_PG_TIMEOUTS = {
    "connect_timeout": 10,  # seconds
    "tcp_user_timeout": 30_000,  # ms unacknowledged data may wait before the connection fails
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the pragmas our guarantees rely on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # An unreachable server must fail a transaction in seconds (the channel
    # then keeps the platform's messages unacknowledged and retries), never
    # hang it: libpq waits forever to connect by default, and a connection
    # whose peer vanished hangs until TCP gives up, some 15 minutes.
    connect_args = dict(kwargs.pop("connect_args", {}))
    for key, value in _PG_TIMEOUTS.items():
        if key not in parsed.query:
            connect_args.setdefault(key, value)
    return create_engine(url, connect_args=connect_args, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def ping(session: Session) -> None:
    """One `SELECT 1`: raises `SQLAlchemyError` when the database does not answer."""
    session.execute(text("SELECT 1"))

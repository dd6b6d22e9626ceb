"""Looking for planted canaries in everything a stolen server would hold."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, text

if TYPE_CHECKING:
    from tests.support.setup import Setup


def _variants(canary: str) -> set[bytes]:
    return {
        canary.encode("utf-8"),
        canary.encode("utf-16-le"),
        canary.encode("utf-16-be"),
        canary.lower().encode("utf-8"),
        canary.upper().encode("utf-8"),
    }


def files_under(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(p for p in root.rglob("*") if p.is_file())
    return found


def leaks(canaries: Iterable[str], paths: Iterable[Path]) -> list[tuple[str, Path]]:
    """Every (canary, file) where the canary's bytes appear in the file."""
    hits = []
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            # Removed since it was listed: on PostgreSQL, the files of a relation another
            # test run dropped, or a WAL segment recycled (runs share the server). What is
            # ours stays: its schema is dropped only after the test.
            continue
        for canary in canaries:
            if any(variant in data for variant in _variants(canary)):
                hits.append((canary, path))
    return hits


def postgres_files_since(engine: Engine, since: float) -> list[Path]:
    """The PostgreSQL server's data and WAL files written since `since` (after a CHECKPOINT).

    The server runs on this machine (127.0.0.1): its files are what a stolen
    disk holds. Reading them needs the server's user or root; otherwise skip.
    """
    with engine.connect() as connection:
        connection.execute(text("CHECKPOINT"))
        data = Path(str(connection.execute(text("SHOW data_directory")).scalar()))
        database = connection.execute(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar()
    roots = [data / "base" / str(database), data / "pg_wal"]
    if not all(os.access(root, os.R_OK | os.X_OK) for root in roots):
        pytest.skip(f"cannot read PostgreSQL's files in {data} (run as root or postgres)")
    return [path for path in files_under(*roots) if _modified_since(path, since - 1)]


def _modified_since(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since
    except FileNotFoundError:
        return False  # removed since it was listed (see `leaks`)


def at_rest(setup: Setup, since: float, *more: Path) -> list[Path]:
    """Every file a seized server holds for `setup` (and `more`), read while the WAL is live.

    The home (database, WAL, logs, keyring) on SQLite; on PostgreSQL the home
    and the server's data and WAL files written since `since` (a `time.time()`).
    """
    with setup.sessions() as session:
        session.execute(text("select 1"))  # an open connection keeps the SQLite WAL in place
        found = files_under(setup.settings.home, *more)
        if setup.engine.dialect.name == "sqlite":
            names = {path.name for path in found}
            assert {"intake.db", "intake.db-wal"} <= names, sorted(names)
        else:
            found += postgres_files_since(setup.engine, since)
    return found

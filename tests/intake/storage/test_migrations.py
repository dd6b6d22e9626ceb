"""The head schema equals the models, on both databases; the revision checks agree with Alembic."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from intake.storage import migrate
from intake.storage.engine import make_engine
from intake.storage.models import Base


def test_head_schema_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_sqlite_runs_wal_and_secure_delete(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    engine.dispose()


# Every command reads the revisions without Alembic (start-up time): Alembic is the oracle.


def _alembic_current(engine) -> str | None:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_head_revision_is_alembics() -> None:
    scripts = ScriptDirectory.from_config(migrate._config())
    # Not simply the last script by name: 0011 and 0012 landed before 0010.
    assert migrate.head_revision() == scripts.get_current_head()


def test_current_revision_is_alembics_at_every_stage(database_url: str) -> None:
    engine = make_engine(database_url)
    assert migrate.current_revision(engine) is None  # no version table yet
    assert _alembic_current(engine) is None
    for revision in ("0006", "head"):
        migrate.upgrade(engine, revision)
        assert migrate.current_revision(engine) == _alembic_current(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_head_revision_refuses_two_heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    for name, down in (("a", None), ("b", "a"), ("c", "a")):
        (versions / f"{name}.py").write_text(f"revision = {name!r}\ndown_revision = {down!r}\n")
    monkeypatch.setattr(migrate, "_SCRIPTS", tmp_path)
    with pytest.raises(RuntimeError, match="several heads: b, c"):
        migrate.head_revision()
    (versions / "d.py").write_text("revision: str = 'd'\ndown_revision = ('b', 'c')\n")
    assert migrate.head_revision() == "d"  # a merge revision joins them

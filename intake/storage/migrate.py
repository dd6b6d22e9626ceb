"""Schema migrations (Alembic), run by `hrd-intake db upgrade` and `init`.

Every command checks the schema before it starts (`current_revision` against
`head_revision`, in `intake.core.desks.open_database`). Those two read Alembic's
version table and the revision scripts' `revision` / `down_revision` lines
themselves: importing Alembic (with the Mako and Pygments it imports) took about
a quarter of a second of each `queue list`. Only the functions that migrate
import it; tests check both readings against Alembic's own.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, column, func, inspect, select, table

if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPTS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock key of schema migrations (any constant unique to this use).
MIGRATION_LOCK = 0x4852_444D_4947_5241
# Alembic's version table: its default name, which migrations/env.py keeps.
_VERSION_TABLE = table("alembic_version", column("version_num"))


def _config() -> Config:
    from alembic.config import Config  # only when migrating (see the module's docstring)

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is there already.

    Several processes may start at once (`serve` containers run `db upgrade`
    first): on PostgreSQL an advisory lock held until this transaction ends
    lets one migrate while the others wait, then find nothing left to do.
    """
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before the first migration.

    Raises:
        RuntimeError: the version table holds several revisions (a branched history).
    """
    with engine.connect() as connection:
        if not inspect(connection).has_table(_VERSION_TABLE.name):
            return None
        found = connection.execute(select(_VERSION_TABLE.c.version_num)).scalars().all()
    if len(found) > 1:
        raise RuntimeError(f"the database is at several revisions at once: {sorted(found)}")
    return str(found[0]) if found else None


def head_revision() -> str | None:
    """The revision no other revises: what the code needs (None without any script).

    Raises:
        RuntimeError: several heads (two revisions revise the same one: merge them),
            or a script whose `revision` or `down_revision` is not a plain literal.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((_SCRIPTS / "versions").glob("*.py")):
        if path.name.startswith(("__", ".#")):  # what Alembic skips too
            continue
        revision_id, down = _revision_lines(path)
        revisions.add(revision_id)
        revised.update(down)
    heads = sorted(revisions - revised)
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {', '.join(heads)}")
    return heads[0] if heads else None


def _revision_lines(path: Path) -> tuple[str, tuple[str, ...]]:
    """A revision script's `revision` and the ones it revises, read from its source, not run."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in {"revision", "down_revision"}:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError as exc:
                raise RuntimeError(f"{path.name}: {target.id} is not a literal") from exc
    revision_id, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision_id, str):
        raise RuntimeError(f"{path.name}: no `revision = \"...\"` line")
    if down is None or isinstance(down, str):
        return revision_id, () if down is None else (down,)
    if isinstance(down, tuple | list) and all(isinstance(item, str) for item in down):
        return revision_id, tuple(down)
    raise RuntimeError(f"{path.name}: down_revision is not a revision id nor a list of them")


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new revision (developers only)."""
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)

"""`missions`: the missions directory."""

from __future__ import annotations

from pathlib import Path

import click

from intake.cli.common import Context, emit_json, id_table, pass_context, refusals
from intake.errors import DirectoryError
from intake.triage.missions import import_directory, list_missions, read_directory


@click.group()
def missions() -> None:
    """The missions directory (delegations, embassies, fallback and fund queues)."""


@missions.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def missions_import(ctx: Context, path: Path) -> None:
    """Import or update missions from a YAML file (validated whole first)."""
    from intake.core.app import utcnow

    with refusals(DirectoryError):
        directory = read_directory(path)
    with ctx.sessions.begin() as session:
        added, updated = import_directory(session, directory, utcnow())
    click.echo(f"missions imported: {added} added, {updated} updated")
    fallback = ctx.settings.routing.fallback
    if fallback and fallback not in {m.id for m in directory.missions}:
        with ctx.sessions() as session:
            known = {m.id for m in list_missions(session)}
        if fallback not in known:
            click.echo(
                f"warning: the fallback queue {fallback!r} is not in the directory", err=True
            )


@missions.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def missions_list(ctx: Context, as_json: bool) -> None:
    """List the missions."""
    with ctx.sessions() as session:
        rows = list_missions(session)
    if as_json:
        emit_json(
            [
                {
                    "id": m.id,
                    "name": m.name,
                    "kind": m.kind,
                    "countries": m.countries,
                    "languages": m.languages,
                }
                for m in rows
            ]
        )
        return
    table = id_table("id", "name", "kind", "countries", "languages", ids=("id",))
    for m in rows:
        table.add_row(m.id, m.name, m.kind, " ".join(m.countries), " ".join(m.languages))
    ctx.console.print(table)

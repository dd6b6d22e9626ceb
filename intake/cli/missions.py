"""`missions`: the missions directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from flows import load_catalog, load_specs
from intake.cli.common import Context, emit_json, id_table, pass_context, refusals
from intake.core.config_check import check_routing
from intake.errors import ConfigError, DirectoryError
from intake.keys.readers import missions_without_officers
from intake.triage.missions import import_directory, list_missions, read_directory


@click.group()
def missions() -> None:
    """The missions directory (delegations, embassies, fallback and fund queues)."""


@missions.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def missions_import(ctx: Context, path: Path) -> None:
    """Import or update missions from a YAML file (validated whole first)."""
    from intake.core.desks import utcnow

    with refusals(DirectoryError):
        directory = read_directory(path)
    with refusals(DirectoryError), ctx.sessions.begin() as session:
        added, updated = import_directory(session, directory, utcnow())
    click.echo(f"missions imported: {added} added, {updated} updated")
    with ctx.sessions() as session:
        warn_without_officers(missions_without_officers(session))
    # The routing configuration is checked against the directory as it now is: what
    # `serve` and `chat` would refuse at start, said here while the file is at hand.
    with ctx.sessions() as session:
        known = {m.id for m in list_missions(session)}
    try:
        check_routing(ctx.settings, load_specs(catalog=load_catalog()), known)
    except ConfigError as exc:
        click.echo(f"warning: {exc}", err=True)


def warn_without_officers(missions: Sequence[str]) -> None:
    """Say which missions' cases nobody could open yet (they would wait unseen)."""
    if missions:
        click.echo(
            f"warning: no officer yet in {', '.join(missions)}: cases routed there wait unseen "
            "until one is enrolled (hrd-intake officers add --mission ID --name NAME ...)",
            err=True,
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

"""Queue and missions commands."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from crypto import CryptoError
from intake.cli.common import Context, emit_json, fail, pass_context, refusals
from intake.missions import DirectoryError, import_directory, list_missions, read_directory
from intake.queue import STATUSES, CaseNotFound, list_cases, open_case


def _age(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


@click.group()
def missions() -> None:
    """The missions directory (delegations, embassies, fallback and fund queues)."""


@missions.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def missions_import(ctx: Context, path: Path) -> None:
    """Import or update missions from a YAML file (validated whole first)."""
    from intake.app import utcnow

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
    table = Table("id", "name", "kind", "countries", "languages")
    for m in rows:
        table.add_row(m.id, m.name, m.kind, " ".join(m.countries), " ".join(m.languages))
    ctx.console.print(table)


@click.group()
def queue() -> None:
    """Liaison officers' queues (metadata only unless a case is opened)."""


@queue.command("list")
@click.option("--mission", "missions_", multiple=True, help="Only this mission (repeatable).")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only this state."
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def queue_list(
    ctx: Context,
    missions_: tuple[str, ...],
    statuses: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List cases, most urgent then oldest first (no case content)."""
    from intake.app import utcnow

    now = utcnow()
    with ctx.sessions() as session:
        page = list_cases(session, missions_, statuses, limit=limit, offset=offset)
    if as_json:
        emit_json([case.as_json(now) for case in page])
        return
    table = Table("reference", "mission", "kind", "urgency", "status", "age", "flag")
    for case in page:
        age = _age(int((now - case.submitted_at).total_seconds()))
        table.add_row(
            case.reference,
            case.mission,
            case.kind,
            case.urgency,
            case.status,
            age,
            "!" if case.flagged else "",
        )
    ctx.console.print(table)


@queue.command("show")
@click.argument("reference")
@click.option(
    "--save-attachments",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the case's files into this folder (created 0700).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def queue_show(ctx: Context, reference: str, save_attachments: Path | None, as_json: bool) -> None:
    """Decrypt and show one case."""
    from intake.app import utcnow
    from intake.references import parse_reference

    ref = parse_reference(reference) or reference
    with ctx.sessions() as session, refusals(CaseNotFound):
        try:
            content = open_case(session, ctx.cipher, ref)
        except CryptoError as exc:
            fail(f"case {ref} does not decrypt: {exc}")
    if save_attachments is not None:
        save_attachments.mkdir(parents=True, exist_ok=True, mode=0o700)
        for index, item in enumerate(content.attachments, start=1):
            target = save_attachments / f"{content.summary.reference}-{index}"
            target.write_bytes(item.data)
            target.chmod(0o600)
    if as_json:
        emit_json(
            {
                **content.summary.as_json(utcnow()),
                "report": content.payload,
                "attachments": [
                    {"id": a.id, "media_type": a.media_type, "size": len(a.data)}
                    for a in content.attachments
                ],
            }
        )
        return
    summary = content.summary
    ctx.console.print(
        f"[bold]{summary.reference}[/bold]  {summary.kind}  urgency={summary.urgency}  "
        f"status={summary.status}  mission={summary.mission}"
        + ("  [red]FLAGGED (duress)[/red]" if summary.flagged else "")
    )
    table = Table("question", "answer", show_lines=True)
    for key, value in content.payload.get("answers", {}).items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        # Text, not markup: what a defender wrote is shown literally.
        table.add_row(Text(key), Text(shown))
    ctx.console.print(table)
    for item in content.attachments:
        ctx.console.print(
            f"attachment {item.id}: {item.media_type}, {len(item.data)} bytes", markup=False
        )

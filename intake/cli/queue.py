"""`queue`: officers' queue and triage, acting as one officer (or as security staff).

Every decision (who may act, what the case's state allows) and every audit
entry is the case desk's (`intake.triage.desk`); this module asks and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from intake.cli.case_view import print_case
from intake.cli.common import (
    Context,
    emit_json,
    fail,
    pass_context,
    passphrase_file_option,
    read_passphrase,
    recovery_key_option,
)
from intake.core.app import build_desk, utcnow
from intake.references import CaseRef, MissionId, OfficerId, parse_reference
from intake.storage.models import Officer
from intake.triage.desk import Acting, CaseDesk
from intake.triage.queue import STATUSES
from intake.triage.workflow import TRIGGER_FOR_STATUS

officer_option = click.option(
    "--officer",
    "officer_id",
    envvar="HRD_INTAKE_OFFICER",
    help="Act as this officer (or HRD_INTAKE_OFFICER).",
)


def _age(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _desk(ctx: Context) -> CaseDesk:
    return build_desk(ctx.settings, ctx.sessions, ctx.cipher)


def _officer(desk: CaseDesk, officer_id: str | None, action: str, subject: str) -> Officer:
    if not officer_id:
        fail("this command acts as an officer: give --officer ID or set HRD_INTAKE_OFFICER")
    return desk.officer(OfficerId(officer_id), action, subject)


def _acting(
    desk: CaseDesk,
    officer: Officer | None,
    passphrase_file: Path | None,
    recovery_key: Path | None,
    subject: str,
) -> Acting:
    if recovery_key is not None:
        return desk.recovery(recovery_key)
    if officer is None:
        fail("give --officer ID (or HRD_INTAKE_OFFICER), or --recovery-key FILE")
    passphrase = read_passphrase(passphrase_file, f"Passphrase for {officer.id}")
    return desk.unlock(officer, passphrase, subject)


def _reference(text: str) -> CaseRef:
    return parse_reference(text) or CaseRef(text.strip())


def _read_text(source: Path | None, what: str) -> str:
    if source is None and sys.stdin.isatty():
        click.echo(f"Type the {what}; end with Ctrl-D on a line of its own.", err=True)
    text = source.read_text(encoding="utf-8") if source is not None else sys.stdin.read()
    text = text.strip()
    if not text:
        fail(f"empty {what}: write it on standard input or in --file")
    return text


def _officer_acting(
    ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None, action: str
) -> tuple[CaseDesk, CaseRef, Acting]:
    desk = _desk(ctx)
    ref = _reference(reference)
    officer = _officer(desk, officer_id, action, ref)
    return desk, ref, _acting(desk, officer, passphrase_file, None, ref)


@click.group()
def queue() -> None:
    """Liaison queues and triage. Case content never comes from the command line."""


@queue.command("list")
@officer_option
@click.option("--mission", "missions_", multiple=True, help="Only this mission (operator view).")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only this state."
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def queue_list(
    ctx: Context,
    officer_id: str | None,
    missions_: tuple[str, ...],
    statuses: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List cases, most urgent then oldest (metadata only). An officer sees their mission only."""
    desk = _desk(ctx)
    officer = _officer(desk, officer_id, "queue.list", "queue") if officer_id else None
    page = desk.list(
        officer, [MissionId(m) for m in missions_], statuses, limit=limit, offset=offset
    )
    now = utcnow()
    if as_json:
        emit_json([case.as_json(now) for case in page])
        return
    table = Table("reference", "mission", "kind", "urgency", "status", "age", "claimed by", "flag")
    for case in page:
        age = _age(int((now - case.submitted_at).total_seconds()))
        flag = "duress" if case.flagged else ""
        table.add_row(
            case.reference,
            case.mission,
            case.kind,
            case.urgency,
            case.status,
            age,
            case.claimed_by or "",
            flag,
        )
    ctx.console.print(table)


@queue.command("show")
@click.argument("reference")
@officer_option
@passphrase_file_option
@recovery_key_option
@click.option(
    "--save-attachments",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the case's files into this folder (created 0700).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def queue_show(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    recovery_key: Path | None,
    save_attachments: Path | None,
    as_json: bool,
) -> None:
    """Decrypt and show one case with your key (audited)."""
    desk = _desk(ctx)
    ref = _reference(reference)
    officer = None if recovery_key else _officer(desk, officer_id, "case.open", ref)
    acting = _acting(desk, officer, passphrase_file, recovery_key, ref)
    print_case(ctx.console, desk.open(ref, acting), save_attachments, as_json)


@queue.command("claim")
@click.argument("reference")
@officer_option
@passphrase_file_option
@pass_context
def queue_claim(
    ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None
) -> None:
    """Take a case: it shows as yours to the rest of your mission."""
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.claim")
    click.echo(desk.claim(ref, acting))


def _status_command(name: str, trigger: str, doc: str) -> None:
    @queue.command(name, help=doc)
    @click.argument("reference")
    @officer_option
    @passphrase_file_option
    @pass_context
    def command(
        ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None
    ) -> None:
        desk, ref, acting = _officer_acting(
            ctx, reference, officer_id, passphrase_file, f"case.{trigger}"
        )
        click.echo(desk.change_status(ref, acting, trigger))


_status_command("ack", "ack", "Acknowledge a new (or transferred) case.")
_status_command("close", "close", "Close a case.")
_status_command("reopen", "reopen", "Reopen a closed case.")


@queue.command("status")
@click.argument("reference")
@click.argument("state", type=click.Choice(sorted(TRIGGER_FOR_STATUS)))
@officer_option
@passphrase_file_option
@pass_context
def queue_status(
    ctx: Context, reference: str, state: str, officer_id: str | None, passphrase_file: Path | None
) -> None:
    """Move a case to STATE (illegal moves are refused and audited)."""
    trigger = TRIGGER_FOR_STATUS[state]
    desk, ref, acting = _officer_acting(
        ctx, reference, officer_id, passphrase_file, f"case.{trigger}"
    )
    click.echo(desk.change_status(ref, acting, trigger))


text_option = click.option(
    "--file", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@queue.command("note")
@click.argument("reference")
@officer_option
@passphrase_file_option
@text_option
@pass_context
def queue_note(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    source: Path | None,
) -> None:
    """Add a note (from stdin or --file), sealed like the case."""
    text = _read_text(source, "note")
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.note")
    click.echo(desk.note(ref, acting, text))


@queue.command("reply")
@click.argument("reference")
@officer_option
@passphrase_file_option
@text_option
@pass_context
def queue_reply(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    source: Path | None,
) -> None:
    """Reply to the defender (text from stdin or --file) through the bot they used."""
    text = _read_text(source, "reply")
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.reply")
    click.echo(desk.reply(ref, acting, text))


@queue.command("transfer")
@click.argument("reference")
@click.option("--to", "to_mission", required=True, help="The mission to hand the case to.")
@click.option(
    "--force",
    is_flag=True,
    help="Transfer even though no active officer there can open it (it waits unseen).",
)
@officer_option
@passphrase_file_option
@pass_context
def queue_transfer(
    ctx: Context,
    reference: str,
    to_mission: str,
    force: bool,
    officer_id: str | None,
    passphrase_file: Path | None,
) -> None:
    """Hand a case to another mission: its keys are re-sealed to that mission."""
    desk, ref, acting = _officer_acting(
        ctx, reference, officer_id, passphrase_file, "case.transfer"
    )
    click.echo(desk.transfer(ref, acting, MissionId(to_mission), force=force))

"""`queue`: officers' queue and triage, acting as one officer (or as security staff)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from crypto import BadPassphrase, CryptoError
from intake.cli.common import (
    Context,
    audit_refusal,
    emit_json,
    fail,
    pass_context,
    passphrase_file_option,
    read_passphrase,
    recovery_key_option,
    sync_audit,
)
from intake.core.app import utcnow
from intake.errors import IllegalTransition, NoKeyAtHand, OfficerRefused
from intake.keys.holders import KeysAtHand
from intake.keys.recovery import recovery_keys_at_hand
from intake.references import parse_reference
from intake.storage.models import Case, Officer
from intake.triage import actions as triage
from intake.triage.officers import active_officer, unlock
from intake.triage.queue import STATUSES, CaseNotFound, list_cases, summary
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


def _officer(ctx: Context, officer_id: str | None, action: str, subject: str) -> Officer:
    if not officer_id:
        fail(f"{action} acts as an officer: give --officer ID or set HRD_INTAKE_OFFICER")
    with ctx.sessions() as session:
        try:
            return active_officer(session, officer_id)
        except OfficerRefused as exc:
            audit_refusal(ctx, f"officer:{officer_id}", action, subject, str(exc))


def _keys(
    ctx: Context,
    officer: Officer | None,
    passphrase_file: Path | None,
    recovery_key: Path | None,
    subject: str,
) -> KeysAtHand:
    if recovery_key is not None:
        try:
            return recovery_keys_at_hand(recovery_key)
        except CryptoError as exc:
            fail(f"cannot read the recovery key file: {exc}")
    if officer is None:
        fail("give --officer ID (or HRD_INTAKE_OFFICER), or --recovery-key FILE")
    passphrase = read_passphrase(passphrase_file, f"Passphrase for {officer.id}")
    with ctx.sessions() as session:
        try:
            return unlock(session, officer.id, passphrase)
        except (BadPassphrase, OfficerRefused) as exc:
            audit_refusal(
                ctx, f"officer:{officer.id}", "unlock", subject, str(exc) or "wrong passphrase"
            )


def _reference(text: str) -> str:
    return parse_reference(text) or text.strip()


def _read_text(source: Path | None, what: str) -> str:
    text = source.read_text(encoding="utf-8") if source is not None else sys.stdin.read()
    text = text.strip()
    if not text:
        fail(f"empty {what}: write it on standard input or in --file")
    return text


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
    if officer_id:
        officer = _officer(ctx, officer_id, "queue.list", "queue")
        foreign = [m for m in missions_ if m != officer.mission_id]
        if foreign:
            audit_refusal(
                ctx,
                f"officer:{officer.id}",
                "queue.list",
                foreign[0],
                f"not in the queue of {foreign[0]}",
            )
        missions_ = (officer.mission_id,)
    now = utcnow()
    with ctx.sessions() as session:
        page = list_cases(session, missions_, statuses, limit=limit, offset=offset)
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


def _acting_case(
    ctx: Context, officer: Officer | None, reference: str, action: str, session: Session
) -> Case:
    try:
        return triage.find_case(session, reference, officer)
    except CaseNotFound as exc:
        fail(str(exc))
    except OfficerRefused as exc:
        session.rollback()
        audit_refusal(ctx, triage.actor_name(officer), action, reference, str(exc))


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
    ref = _reference(reference)
    officer = None if recovery_key else _officer(ctx, officer_id, "case.open", ref)
    keys = _keys(ctx, officer, passphrase_file, recovery_key, ref)
    now = utcnow()
    with ctx.sessions.begin() as session:
        case = _acting_case(ctx, officer, ref, "case.open", session)
        try:
            opened = triage.open_case(session, ctx.cipher, case, keys)
        except (NoKeyAtHand, CryptoError) as exc:
            session.rollback()
            audit_refusal(
                ctx,
                triage.actor_name(officer, keys),
                "case.open",
                ref,
                f"case {ref} does not open: {exc}",
            )
        from intake.storage import audit

        audit.append(session, now, triage.actor_name(officer, keys), "case.open", ref)
    sync_audit(ctx)
    _print_case(ctx, opened, save_attachments, as_json)


def _print_case(
    ctx: Context, opened: triage.OpenedCase, folder: Path | None, as_json: bool
) -> None:
    case = summary(opened.case)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for index, item in enumerate(opened.attachments, start=1):
            target = folder / f"{case.reference}-{index}"
            target.write_bytes(item.data)
            target.chmod(0o600)
    if as_json:
        emit_json(
            {
                **case.as_json(utcnow()),
                "report": opened.payload,
                "attachments": [
                    {"id": a.id, "media_type": a.media_type, "size": len(a.data)}
                    for a in opened.attachments
                ],
                "events": [
                    {
                        "kind": e.kind,
                        "author": e.author,
                        "at": e.created_at.isoformat(),
                        "text": e.text,
                    }
                    for e in opened.events
                ],
            }
        )
        return
    header = Text(
        f"{case.reference}  {case.kind}  urgency={case.urgency}  status={case.status}  mission={case.mission}"
    )
    if case.flagged:
        header.append("  FLAGGED: the defender typed the duress word", style="bold red")
    ctx.console.print(header)
    table = Table("question", "answer", show_lines=True)
    for key, value in opened.payload.get("answers", {}).items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        # Text, not markup: what a defender wrote is shown literally.
        table.add_row(Text(key), Text(shown))
    ctx.console.print(table)
    for item in opened.attachments:
        ctx.console.print(Text(f"attachment {item.id}: {item.media_type}, {len(item.data)} bytes"))
    for event in opened.events:
        ctx.console.print(
            Text(f"[{event.created_at:%Y-%m-%d %H:%M}] {event.kind} by {event.author}:")
        )
        ctx.console.print(Text(event.text))


# One triage step: (session, case, officer, keys, now) -> what to tell the officer.
Step = Callable[[Session, Case, Officer, KeysAtHand, datetime], str]


def _act(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    action: str,
    step: Step,
) -> None:
    """Run one triage step as an authenticated officer, in one transaction, audited."""
    ref = _reference(reference)
    officer = _officer(ctx, officer_id, action, ref)
    keys = _keys(ctx, officer, passphrase_file, None, ref)
    with ctx.sessions.begin() as session:
        case = _acting_case(ctx, officer, ref, action, session)
        try:
            message = step(session, case, officer, keys, utcnow())
        except (IllegalTransition, OfficerRefused, NoKeyAtHand, LookupError) as exc:
            session.rollback()
            audit_refusal(ctx, f"officer:{officer.id}", action, ref, str(exc))
    sync_audit(ctx)
    click.echo(message)


def _status_step(trigger: str) -> Step:
    def step(
        session: Session, case: Case, officer: Officer, keys: KeysAtHand, now: datetime
    ) -> str:
        status = triage.change_status(session, case, trigger, f"officer:{officer.id}", now)
        return f"{case.reference}: {status}"

    return step


@queue.command("claim")
@click.argument("reference")
@officer_option
@passphrase_file_option
@pass_context
def queue_claim(
    ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None
) -> None:
    """Take a case: it shows as yours to the rest of your mission."""

    def step(
        session: Session, case: Case, officer: Officer, keys: KeysAtHand, now: datetime
    ) -> str:
        triage.claim(session, case, officer, now)
        return f"{case.reference}: claimed by {officer.id}"

    _act(ctx, reference, officer_id, passphrase_file, "case.claim", step)


def _status_command(name: str, trigger: str, doc: str) -> None:
    @queue.command(name, help=doc)
    @click.argument("reference")
    @officer_option
    @passphrase_file_option
    @pass_context
    def command(
        ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None
    ) -> None:
        _act(ctx, reference, officer_id, passphrase_file, f"case.{trigger}", _status_step(trigger))


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
    _act(ctx, reference, officer_id, passphrase_file, f"case.{trigger}", _status_step(trigger))


@queue.command("note")
@click.argument("reference")
@officer_option
@passphrase_file_option
@click.option("--file", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
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

    def step(
        session: Session, case: Case, officer: Officer, keys: KeysAtHand, now: datetime
    ) -> str:
        triage.note(session, ctx.cipher, case, f"officer:{officer.id}", text, now)
        return f"{case.reference}: note added"

    _act(ctx, reference, officer_id, passphrase_file, "case.note", step)


@queue.command("reply")
@click.argument("reference")
@officer_option
@passphrase_file_option
@click.option("--file", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def queue_reply(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    source: Path | None,
) -> None:
    """Reply to the defender (text from stdin or --file) through the bot they used."""
    from intake.core.app import build_service

    text = _read_text(source, "reply")
    service = build_service(ctx.settings, ctx.sessions, ctx.cipher)

    def step(
        session: Session, case: Case, officer: Officer, keys: KeysAtHand, now: datetime
    ) -> str:
        triage.reply(
            session,
            ctx.cipher,
            case,
            keys,
            f"officer:{officer.id}",
            text,
            service.render_reply,
            now,
        )
        return f"{case.reference}: reply queued for delivery"

    _act(ctx, reference, officer_id, passphrase_file, "case.reply", step)


@queue.command("transfer")
@click.argument("reference")
@click.option("--to", "to_mission", required=True, help="The mission to hand the case to.")
@officer_option
@passphrase_file_option
@pass_context
def queue_transfer(
    ctx: Context,
    reference: str,
    to_mission: str,
    officer_id: str | None,
    passphrase_file: Path | None,
) -> None:
    """Hand a case to another mission: its keys are re-sealed to that mission."""

    def step(
        session: Session, case: Case, officer: Officer, keys: KeysAtHand, now: datetime
    ) -> str:
        triage.transfer(session, ctx.cipher, case, keys, to_mission, f"officer:{officer.id}", now)
        return f"{case.reference}: transferred to {to_mission}"

    _act(ctx, reference, officer_id, passphrase_file, "case.transfer", step)
